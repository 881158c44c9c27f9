(function(){'use strict';
var st=document.getElementById('status');
function fail(m){st.setAttribute('data-errors',String(+st.getAttribute('data-errors')+1));st.textContent='error: '+m;}
window.addEventListener('error',function(e){fail(e.message);});
try{
var D=JSON.parse(document.getElementById('tropt-data').textContent);
var NS='http://www.w3.org/2000/svg',W=560,H=240,L=58,R=10,T=16,B=34;
var pal=['#1f77b4','#ff7f0e','#2ca02c','#d62728','#9467bd','#8c564b','#e377c2','#7f7f7f','#bcbd22','#17becf'];
function color(i){return i<pal.length?pal[i]:'hsl('+((i*47)%360)+',65%,45%)';}
function el(n,a,p){var e=document.createElementNS(NS,n);for(var k in a)e.setAttribute(k,a[k]);if(p)p.appendChild(e);return e;}
var hidden={},xmode='step',logy=false;
var h=location.hash.replace(/^#/,'').split('&');h.forEach(function(p){var kv=p.split('=');if(kv[0]==='x'&&kv[1]==='time')xmode='time';if(kv[0]==='log'&&kv[1]==='1')logy=true;if(kv[0]==='hide')kv[1].split(',').forEach(function(i){if(i!=='')hidden[+i]=true;});});
document.getElementById('xmode').value=xmode;document.getElementById('logy').checked=logy;
var leg=document.getElementById('legend');
D.runs.forEach(function(r,i){var l=document.createElement('label');var c=document.createElement('input');c.type='checkbox';c.checked=!hidden[i];c.addEventListener('change',function(){hidden[i]=!c.checked;draw();});var s=document.createElement('span');s.className='sw';s.style.background=color(i);l.appendChild(c);l.appendChild(s);l.appendChild(document.createTextNode(r.name));leg.appendChild(l);});
document.getElementById('xmode').addEventListener('change',function(e){xmode=e.target.value;draw();});
document.getElementById('logy').addEventListener('change',function(e){logy=e.target.checked;draw();});
function fmt(v){return typeof v==='number'?(Math.abs(v)>=1e5||(v!==0&&Math.abs(v)<1e-3)?v.toExponential(3):String(+v.toPrecision(6))):String(v===null?'NaN':v);}
function ok(v){return typeof v==='number'&&(!logy||v>0);}
function drawChart(div,m){
 var old=div.querySelector('svg');if(old)div.removeChild(old);
 var svg=el('svg',{width:W,height:H,viewBox:'0 0 '+W+' '+H,'class':'plot'});
 div.appendChild(svg);
 var x0=Infinity,x1=-Infinity,y0=Infinity,y1=-Infinity;
 m.series.forEach(function(s){if(hidden[s.run])return;var X=xmode==='step'?s.s:s.t;for(var i=0;i<X.length;i++){if(X[i]<x0)x0=X[i];if(X[i]>x1)x1=X[i];var v=s.y[i];if(ok(v)){var w=logy?Math.log10(v):v;if(w<y0)y0=w;if(w>y1)y1=w;}}});
 if(!(x1>=x0)){x0=0;x1=1;}if(x1===x0){x0-=1;x1+=1;}
 if(!(y1>=y0)){y0=0;y1=1;}if(y1===y0){y0-=1;y1+=1;}
 var pw=W-L-R,ph=H-T-B;
 function sx(x){return L+(x-x0)/(x1-x0)*pw;}
 function sy(v){var w=logy?Math.log10(v):v;return T+ph-(w-y0)/(y1-y0)*ph;}
 el('rect',{x:L,y:T,width:pw,height:ph,fill:'none',stroke:'#bbb'},svg);
 for(var k=0;k<=4;k++){var w=y0+(y1-y0)*k/4,yy=T+ph-ph*k/4;el('line',{x1:L,x2:L+pw,y1:yy,y2:yy,stroke:'#eee'},svg);var tx=el('text',{x:L-4,y:yy+3,'text-anchor':'end'},svg);tx.textContent=fmt(logy?Math.pow(10,w):w);var xv=x0+(x1-x0)*k/4,tt=el('text',{x:L+pw*k/4,y:H-B+14,'text-anchor':'middle'},svg);tt.textContent=fmt(xv);}
 var xl=el('text',{x:L+pw/2,y:H-4,'text-anchor':'middle'},svg);xl.textContent=xmode==='step'?'step':'seconds since run start';
 m.series.forEach(function(s){
  var X=xmode==='step'?s.s:s.t,d='',pen=false;
  for(var i=0;i<X.length;i++){var v=s.y[i];if(ok(v)){d+=(pen?'L':'M')+sx(X[i]).toFixed(1)+' '+sy(v).toFixed(1);pen=true;}else pen=false;}
  var p=el('path',{d:d,fill:'none',stroke:color(s.run),'stroke-width':1.3,'class':'series','data-run':D.runs[s.run].id},svg);
  if(hidden[s.run])p.setAttribute('visibility','hidden');
  for(var j=0;j<X.length;j++){var u=s.y[j];if(typeof u==='number'&&!(logy&&u<=0))continue;var cx=sx(X[j]),mk;
   if(u===null)mk=el('circle',{cx:cx,cy:T-8,r:3.5,fill:'#d00'},svg);
   else if(u==='inf')mk=el('path',{d:'M'+cx+' '+(T-12)+'l-4 7h8z',fill:'#a0a'},svg);
   else if(u==='-inf')mk=el('path',{d:'M'+cx+' '+(T+ph+4)+'l-4 -7h8z',fill:'#a0a'},svg);
   else mk=el('rect',{x:cx-2,y:T+ph-2,width:4,height:4,fill:'#888'},svg);
   mk.setAttribute('class','marker');if(hidden[s.run])mk.setAttribute('visibility','hidden');}
 });
 var tip=div.querySelector('.tip');
 svg.addEventListener('mousemove',function(ev){var b=svg.getBoundingClientRect();var px=ev.clientX-b.left,x=x0+(px-L)/pw*(x1-x0),lines=[];
  m.series.forEach(function(s){if(hidden[s.run])return;var X=xmode==='step'?s.s:s.t,bi=-1,bd=Infinity;for(var i=0;i<X.length;i++){var dd=Math.abs(X[i]-x);if(dd<bd){bd=dd;bi=i;}}if(bi>=0)lines.push(D.runs[s.run].name+'  step '+s.s[bi]+': '+fmt(s.y[bi]));});
  tip.textContent=lines.join('\n');tip.style.display=lines.length?'block':'none';tip.style.left=(px+12)+'px';tip.style.top=(ev.clientY-b.top+20)+'px';});
 svg.addEventListener('mouseleave',function(){tip.style.display='none';});
}
var divs=document.querySelectorAll('div.chart');
function draw(){for(var i=0;i<divs.length;i++)drawChart(divs[i],D.metrics[i]);}
draw();st.setAttribute('data-rendered',String(divs.length));
}catch(e){fail(String(e));}
})();
