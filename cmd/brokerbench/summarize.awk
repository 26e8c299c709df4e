# Summarizes single runs (TSV: label, workload, metric, value, run) into one row per
# (label, workload, metric): median, min, max and the number of runs, in first-seen order; the
# same summary as ../shared/bench-peers/run-peers.sh prints. Used by run-w1.sh and run-grpc.sh:
#   awk -F'\t' -f cmd/brokerbench/summarize.awk RAW.tsv
{ k = $1 "\t" $2 "\t" $3
  if (!(k in cnt)) { order[++nk] = k; cnt[k] = 0 }
  v[k, ++cnt[k]] = $4 + 0 }
END {
  print "peer\tworkload\tmetric\tvalue\tmin\tmax\truns"
  for (i = 1; i <= nk; i++) {
    k = order[i]; n = cnt[k]
    for (a = 1; a <= n; a++) s[a] = v[k, a]
    for (a = 2; a <= n; a++) { x = s[a]; b = a - 1; while (b >= 1 && s[b] > x) { s[b + 1] = s[b]; b-- } s[b + 1] = x }
    med = (n % 2) ? s[(n + 1) / 2] : (s[n / 2] + s[n / 2 + 1]) / 2
    printf "%s\t%.3f\t%.3f\t%.3f\t%d\n", k, med, s[1], s[n], n
  }
}
