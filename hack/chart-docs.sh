#!/usr/bin/env bash
# Renders charts/raypilot/README.md from README.md.gotmpl and values.yaml's
# "# --" comments with the pinned helm-docs (built from the Go module proxy;
# its go.mod needs Go 1.22).
#
#   hack/chart-docs.sh          regenerate README.md
#   hack/chart-docs.sh --check  exit 1, with a diff, when the committed
#                               README.md is not helm-docs' output or a value
#                               in the table has no description
set -euo pipefail

HELM_DOCS=github.com/norwoodj/helm-docs/cmd/helm-docs@v1.14.2
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
chart=$root/charts/raypilot
args=(--chart-search-root "$chart" --sort-values-order file --skip-version-footer
  --template-files README.md.gotmpl --log-level warning)

render() { (cd "$root" && go run "$HELM_DOCS" "${args[@]}" "$@"); }

# helm-docs' strict mode cannot tell a value documented through its parent
# from an undocumented one; a table row with an empty description can.
undocumented() {
  awk -F' \\| ' '/^\| / && $0 ~ /\|  \|$/ { sub(/^\| /, "", $1); print "no description: " $1 }' "$1"
}

case ${1:-} in
  "")
    render
    missing=$(undocumented "$chart/README.md")
    [ -z "$missing" ] || { echo "$missing" >&2; echo "hack/chart-docs.sh: document these in values.yaml with a \"# --\" comment" >&2; exit 1; }
    ;;
  --check)
    want=$(mktemp)
    trap 'rm -f "$want"' EXIT
    render --dry-run >"$want"
    status=0
    if ! diff -u "$chart/README.md" "$want"; then
      echo "hack/chart-docs.sh: charts/raypilot/README.md is not helm-docs' output; edit README.md.gotmpl or values.yaml and run make chart-docs" >&2
      status=1
    fi
    missing=$(undocumented "$want")
    [ -z "$missing" ] || { echo "$missing" >&2; echo "hack/chart-docs.sh: document these in values.yaml with a \"# --\" comment" >&2; status=1; }
    exit $status
    ;;
  *)
    echo "usage: hack/chart-docs.sh [--check]" >&2
    exit 2
    ;;
esac
