#!/usr/bin/env bash
# Checks the observability contrib files against a live scrape:
#   - the example's /metrics passes `promtool check metrics`;
#   - every metric name in the dashboard's and the alerts' expressions
#     appears in that scrape;
#   - `promtool check rules` and `promtool test rules` pass.
# Needs promtool (Debian/Ubuntu: the prometheus package) and PostgreSQL
# for the example: it runs with --rig (CLUSTER_URL, or the testkit's
# throwaway primary and two replicas) so the scrape carries the pool's and
# the cluster's series.
set -euo pipefail
cd "$(dirname "$0")/.."

scrape=$(mktemp)
trap 'rm -f "$scrape"' EXIT
OBSERVABILITY_ADDR=127.0.0.1:0 cargo run -q --example observability --features metrics -- --rig --scrape-once >"$scrape"
echo "== promtool check metrics (the example's scrape: $(grep -vc '^#' "$scrape") samples)"
promtool check metrics <"$scrape"

echo "== every metric the dashboard and the alerts use is in the scrape"
names=$( (grep -o '"expr": "[^"]*"' contrib/grafana/pgline.json; grep -E '^\s+(expr:|[a-z(].*)' contrib/prometheus/alerts.yml) |
  grep -oE '\b(db_client|pgline)_[a-z_]+' | sort -u)
missing=0
for name in $names; do
  # Label names (db_client_connection_pool_name, …) match the pattern too.
  if grep -qE "[{,]${name}=\"" "$scrape"; then
    continue
  fi
  if ! grep -qE "^${name}(\{| )" "$scrape"; then
    echo "not in the scrape: $name"
    missing=1
  fi
done
[ "$missing" = 0 ] || exit 1
echo "every metric name present"

echo "== promtool check rules / test rules"
promtool check rules contrib/prometheus/alerts.yml
promtool test rules contrib/prometheus/alerts_test.yml
