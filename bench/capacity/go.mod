module cuepoint/bench/capacity

go 1.22
