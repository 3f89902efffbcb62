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

# weir beside the other probes: median Mpps per trace, one bar per tool (compare.dat)
array tools[6] = ["bare libpcap loop", "weir", "softflowd", "nfpcapd", "pmacctd", "argus"]
tool_is(i) = strcol(3) eq tools[i]
set output dir."/compare.png"
set title "weir beside other flow probes on the same pcap files (median Mpps; log scale)"
unset logscale x
set logscale y
set yrange [0.01:*]
set xrange [0.5:3.5]
set xtics ("64 B, 100k flows, Zipf" 1, "IMIX, 1M flows, uniform" 2, "high churn" 3)
set xlabel ""
set ylabel "Mpps"
set style fill solid 0.8 border -1
set key top right
plot for [i=1:6] dir."/compare.dat" using ($1 + (i - 3.5) * 0.13):(tool_is(i) ? $4 : 1/0):(0.12) \
     with boxes title tools[i]
