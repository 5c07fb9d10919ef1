"""Independent check of the birthday campaign for tests/t_demo.sh.

Recomputes, from the demo database alone, who the birthday-greeting
campaign (rules/birthday.yaml) must reach on a date, by which channel, and
compares that with the outbox records and the files in var/outbox/.
Usage: check_birthday.py DB OUTBOX YYYY-MM-DD
"""
import calendar, datetime, json, os, re, sqlite3, sys

db, outbox, day = sys.argv[1], sys.argv[2], datetime.date.fromisoformat(sys.argv[3])
con = sqlite3.connect(db)
E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")
EMAIL = re.compile(r"^[^@\s<>\",;\\]+@[^@\s<>\",;\\]+\.[^@\s<>\",;\\.]+$")

def due(birth, d):
    try:
        b = datetime.date.fromisoformat(birth)
    except (TypeError, ValueError):
        return False
    if b.year >= d.year:
        return False
    if (b.month, b.day) == (d.month, d.day):
        return True
    return (b.month, b.day) == (2, 29) and (d.month, d.day) == (2, 28) and not calendar.isleap(d.year)

days = [day - datetime.timedelta(days=1), day]  # grace: 1 day
expected = {}
for cid, birth, status, phone, email, sms_ok, email_ok in con.execute(
        "SELECT id, birth_date, status, phone, email, sms_opt_in, email_opt_in FROM customers"):
    if status != "active":
        continue
    for d in days:
        if not due(birth, d):
            continue
        if phone and E164.match(phone) and str(sms_ok) in ("1", "true"):
            expected[(cid, d.isoformat())] = ("sms", phone)
        elif email and EMAIL.match(email) and str(email_ok) in ("1", "true"):
            expected[(cid, d.isoformat())] = ("email", email)
        else:
            expected[(cid, d.isoformat())] = (None, None)

got = {}
for oid, cid, occ, channel, to, status in con.execute(
        "SELECT id, customer_id, occurrence, channel, recipient, status FROM care_outbox "
        "WHERE campaign = 'birthday-greeting'"):
    got[(cid, occ)] = (channel, to)
    if channel:
        path = os.path.join(outbox, channel, "%d.%s" % (oid, "eml" if channel == "email" else "json"))
        if status != "sent" or not os.path.exists(path):
            sys.exit("message %d (%s) is %s and its file %s %s" % (oid, cid, status, path,
                     "exists" if os.path.exists(path) else "is missing"))
        text = open(path, encoding="utf-8").read()
        if channel == "sms":
            msg = json.loads(text)
            if msg["to"] != to or msg["customer"] != cid or msg["campaign"] != "birthday-greeting":
                sys.exit("SMS file %s does not match its record" % path)
        elif ("<%s>" % to) not in text:
            sys.exit("email file %s is not addressed to %s" % (path, to))

if got != expected:
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    wrong = sorted(k for k in set(got) & set(expected) if got[k] != expected[k])
    sys.exit("outbox differs: missing %s, unexpected %s, wrong channel %s" % (missing[:5], extra[:5], wrong[:5]))
print("%d birthday messages as expected (%d skipped for want of an eligible channel)"
      % (sum(1 for v in expected.values() if v[0]), sum(1 for v in expected.values() if not v[0])))
