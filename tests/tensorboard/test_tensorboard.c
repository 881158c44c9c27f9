/*
 * tests/tensorboard/test_tensorboard.c - the tensorboard backend.
 */
#include "testutil.h"

#include "tb_crc.h"

#include <string.h>

/* RFC 3720 B.4 and the common check value. */
START_TEST(test_crc_vectors)
{
    unsigned char buf[32];
    ck_assert_uint_eq(tb_crc32c("123456789", 9), 0xE3069283u);
    memset(buf, 0, 32);
    ck_assert_uint_eq(tb_crc32c(buf, 32), 0x8A9136AAu);
    memset(buf, 0xFF, 32);
    ck_assert_uint_eq(tb_crc32c(buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (unsigned char)i;
    ck_assert_uint_eq(tb_crc32c(buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (unsigned char)(31 - i);
    ck_assert_uint_eq(tb_crc32c(buf, 32), 0x113FDB5Cu);
    ck_assert_uint_eq(tb_crc32c("", 0), 0);
}
END_TEST

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    Suite *s = suite_create("tensorboard");
    TCase *tc = tcase_create("crc");
    tcase_add_test(tc, test_crc_vectors);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
