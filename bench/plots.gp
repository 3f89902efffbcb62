# The plots of docs/BENCHMARKS.md, from the data files bench/reproduce.sh writes.
# Usage: gnuplot -e "dir='docs/bench'" bench/plots.gp
if (!exists("dir")) dir = "docs/bench"
set terminal pngcairo size 800,480 font "sans,10"
set grid
set key top right
pick(w, s) = (column(1) == w && strcol(2) eq s) ? column(4) : 1/0

set output dir."/flows.png"
set title "weir: throughput vs concurrent flows (synthetic source live, 1k new flows/s; DPDK replay)"
set logscale x
set xlabel "concurrent flows"
set ylabel "delivered Mpps"
set yrange [0:*]
plot dir."/flows.dat" using 3:(pick(1, "64")) with linespoints title "1 worker, 64 B", \
     ""              using 3:(pick(2, "64")) with linespoints title "2 workers, 64 B", \
     ""              using 3:(pick(1, "imix")) with linespoints title "1 worker, IMIX", \
     ""              using 3:(pick(2, "imix")) with linespoints title "2 workers, IMIX", \
     dir."/dpdk.dat" using 3:(pick(1, "64")) with linespoints dashtype 2 title "DPDK net\\_pcap, 1 worker, 64 B", \
     ""              using 3:(pick(2, "64")) with linespoints dashtype 2 title "DPDK net\\_pcap, 2 workers, 64 B"

set output dir."/churn.png"
set title "weir: throughput vs churn (100k concurrent flows, 64 B)"
set xlabel "new flows per second"
plot dir."/churn.dat" using 2:($1 == 1 ? $3 : 1/0) with linespoints title "1 worker", \
     ""              using 2:($1 == 2 ? $3 : 1/0) with linespoints title "2 workers"

set output dir."/rate.png"
set title "weir: loss vs offered rate (64 B, 10k new flows/s, receive ring of 4096)"
set xlabel "offered Mpps"
set ylabel "packets lost, %"
set logscale x
set key top left
plot dir."/rate.dat" using 3:(($1 == 1 && $2 == 100000) ? $5 : 1/0) with linespoints title "1 worker, 100k flows", \
     ""             using 3:(($1 == 2 && $2 == 100000) ? $5 : 1/0) with linespoints title "2 workers, 100k flows", \
     ""             using 3:(($1 == 1 && $2 == 1000000) ? $5 : 1/0) with linespoints title "1 worker, 1M flows", \
     ""             using 3:(($1 == 2 && $2 == 1000000) ? $5 : 1/0) with linespoints title "2 workers, 1M flows"
