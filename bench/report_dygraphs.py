#!/usr/bin/env python3
"""bench/report_dygraphs.py REPORT.html OUT.html [DYGRAPH.min.js] - the
same charts drawn by Debian's libjs-dygraphs, for the measurement that
chose hand-written SVG (bench/README.md).  The script reads the report's
data block and draws each metric with one Dygraph over the union of the
runs' x values (dygraphs wants one shared x column), raw values, no
bands.  Nothing of it is shipped."""
import re
import sys

SCRIPT = r'''
var D=JSON.parse(document.getElementById('tropt-data').textContent);
D.metrics.forEach(function(m){
  var xs={},cols=m.series.length;
  m.series.forEach(function(se,c){se.s.forEach(function(x,i){
    var v=se.y[i];(xs[x]=xs[x]||new Array(cols).fill(null))[c]=typeof v==='number'?v:null;});});
  var rows=Object.keys(xs).map(Number).sort(function(a,b){return a-b;}).map(function(x){
    return [x].concat(xs[x]);});
  var div=document.createElement('div');div.style.width='560px';div.style.height='260px';
  document.body.appendChild(div);
  new Dygraph(div,rows,{labels:['step'].concat(m.series.map(function(se){return 'r'+se.run;})),
    connectSeparatedPoints:true,legend:'never'});
});
document.body.setAttribute('data-done','1');
'''


def main(src, out, lib='/usr/share/javascript/dygraphs/dygraph.min.js'):
    html = open(src, encoding='utf-8').read()
    data = re.search(r'<script type="application/json" id="tropt-data">.*?</script>', html,
                     re.S).group(0)
    js = open(lib, encoding='utf-8').read()
    with open(out, 'w', encoding='utf-8') as f:
        f.write('<!DOCTYPE html><html><head><meta charset="utf-8"><title>dygraphs</title>'
                '</head><body>' + data + '<script>' + js + '</script><script>' + SCRIPT +
                '</script></body></html>')


main(*sys.argv[1:])
