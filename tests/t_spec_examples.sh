#!/bin/sh
# The examples of the campaign specification (sections 3, 5, 6 and 8),
# taken from the spec itself, lint clean against the demo database.
. "$(dirname "$0")/lib.sh"

SPEC="$ROOT/../shared/spec/campaigns.md"
if [ ! -f "$SPEC" ]; then
  skip "spec examples" "$SPEC is not beside the repository"
  exit 0
fi
mkdir -p "$T/rules"
python3 - "$SPEC" "$T/rules" <<'PY'
import re, sys
spec, out = open(sys.argv[1], encoding="utf-8").read(), sys.argv[2]
blocks = re.findall(r"```(yaml)?\n(.*?)```", spec, re.S)
n = 0
for lang, body in blocks:
    if lang == "yaml" and (body.startswith("# rules/") or body.startswith("segment:")):
        m = re.match(r"# rules/(?:segments/)?(\S+)", body)
        name = m.group(1) if m else re.match(r"segment: (\S+)", body).group(1) + ".yaml"
        if "policy:" in body:
            continue
        open("%s/%s" % (out, name), "w", encoding="utf-8").write(body)
        n += 1
    elif not lang and "days_since(max(orders.ordered_at))" in body:
        # Section 6: each expression becomes the audience of a campaign.
        for i, line in enumerate(l for l in body.splitlines() if l.strip()):
            open("%s/expr-%d.yaml" % (out, i + 1), "w", encoding="utf-8").write(
                "campaign: expr-%d\naudience:\n  where: %s\nrepeat: once\ntemplate: birthday\n" % (i + 1, line.strip()))
            n += 1
print(n)
PY
n=$(ls "$T/rules" | wc -l)
[ "$n" -ge 12 ] && ok "the spec's examples were found ($n files: $(ls "$T/rules" | tr '\n' ' '))" || not_ok "the spec's examples were found" "$(ls "$T/rules")"

cc --db "$T/demo.db" --date 2026-11-24 -q demo-data --customers 500 > /dev/null
expect_status 0 "the spec's campaigns, expressions and segments lint clean on the demo database" \
  cc --db "$T/demo.db" --rules "$T/rules" --templates "$ROOT/templates" --date 2026-11-24 lint
expect_status 0 "and plan" cc --db "$T/demo.db" --rules "$T/rules" --templates "$ROOT/templates" --date 2026-11-24 plan --dry-run
