#!/usr/bin/python3
"""cron_send.py - the peer of the end-to-end benchmark: the script a team
would write instead of carecast for the birthday greeting and the contract
renewal notices (email), run from cron once a day.

Debian's python3 only: sqlite3, Jinja2 (python3-jinja2), smtplib, email.

  /usr/bin/python3 bench/peer/cron_send.py DB DATE HOST PORT

What it does, on purpose the same as bench/rules-e2e (which is
rules/birthday.yaml and rules/renewal.yaml with email as the only channel):

- birthday greeting (marketing): active customers whose birthday (29 February
  greeted on 28 February in common years) falls on DATE or the day before
  (one day of catch-up, carecast's default grace, so a missed cron run is
  caught up), born before that year; they need email consent
  (email_opt_in = 1) and a valid address, and must not be suppressed;
- contract renewal (service, no consent needed): active contracts that do
  not renew by themselves (auto_renew = 0) ending in 30 or 7 days from
  DATE or the day before; a valid address, not suppressed with scope 'all';
- the same texts as templates/, rewritten for Jinja2 (bench/peer/templates),
  English for en-* locales, an HTML part for the birthday greeting;
- a dedupe table (peer_sent, primary key campaign, step, row, occurrence):
  a message is recorded before it is handed to SMTP, committed per batch,
  so a second run the same day (or the next day, over the catch-up window)
  sends nothing twice;
- one SMTP connection, reused for every message (smtplib.SMTP.send_message).

It prints "sent N" (and "skipped N" for rows without consent or address).
"""
import datetime
import os
import smtplib
import sqlite3
import sys
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid

import jinja2

SENDER = {"name": "关怀银行", "email": "care@bank.example.cn"}
BATCH = 100


def valid_email(s):
    if not s or not 3 <= len(s) <= 254 or s.count("@") != 1:
        return False
    local, domain = s.split("@")
    if not local or "." not in domain or domain.startswith(".") or domain.endswith("."):
        return False
    return not any(c <= " " or c in '<>",;\\\x7f' for c in s)


def birthday_on(birth, day):
    """The birthday of someone born on `birth` (YYYY-MM-DD) falls on `day`."""
    try:
        y, m, d = (int(x) for x in birth[:10].split("-"))
    except ValueError:
        return False
    if y >= day.year:
        return False
    if (m, d) == (2, 29) and not (day.year % 4 == 0 and (day.year % 100 != 0 or day.year % 400 == 0)):
        m, d = 2, 28
    return (m, d) == (day.month, day.day)


def main():
    db_path, date_s, host, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    today = datetime.date.fromisoformat(date_s)
    window = [today - datetime.timedelta(days=1), today]
    here = os.path.dirname(os.path.abspath(__file__))
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.join(here, "templates")),
                             keep_trailing_newline=True, autoescape=jinja2.select_autoescape(["html.j2"]))

    db = sqlite3.connect(db_path)
    db.row_factory = sqlite3.Row
    db.execute("CREATE TABLE IF NOT EXISTS peer_sent(campaign TEXT, step TEXT, row_id TEXT, occurrence TEXT,"
               " sent_at TEXT, PRIMARY KEY (campaign, step, row_id, occurrence))")
    has_supp = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'care_suppressions'").fetchone()

    def suppressed(cust, marketing):
        if not has_supp:
            return False
        scopes = ("marketing", "all") if marketing else ("all",)
        q = ("SELECT 1 FROM care_suppressions WHERE scope IN (%s) AND (lower(address) = lower(?) OR customer_id = ?)"
             % ",".join("?" * len(scopes)))
        return db.execute(q, (*scopes, cust["email"], cust["id"])).fetchone() is not None

    due = []      # (campaign, step, row_id, occurrence, template, customer, row, html)
    skipped = 0

    # Birthday greeting: SQLite narrows by month-day, Python confirms the year rules.
    mds = {d.strftime("%m-%d") for d in window}
    if any(d.month == 2 and d.day == 28 for d in window):
        mds.add("02-29")
    q = ("SELECT * FROM customers WHERE status = 'active' AND substr(birth_date, 6, 5) IN (%s) ORDER BY id"
         % ",".join("?" * len(mds)))
    for cust in db.execute(q, sorted(mds)).fetchall():
        for day in window:
            if not birthday_on(cust["birth_date"] or "", day):
                continue
            if cust["email_opt_in"] != 1 or not valid_email(cust["email"]) or suppressed(cust, True):
                skipped += 1
                continue
            due.append(("birthday-greeting", "main", cust["id"], day.isoformat(), "birthday", dict(cust), {}, True))

    # Contract renewal at 30 and 7 days.
    for step, days in (("notice-30d", 30), ("notice-7d", 7)):
        lo, hi = (d + datetime.timedelta(days=days) for d in window)
        rows = db.execute("SELECT k.id AS k_id, k.product, k.end_date, c.* FROM contracts k"
                          " LEFT JOIN customers c ON c.id = k.customer_id"
                          " WHERE k.status = 'active' AND k.auto_renew = 0 AND k.end_date BETWEEN ? AND ?"
                          " ORDER BY k.id", (lo.isoformat(), hi.isoformat())).fetchall()
        for r in rows:
            cust = dict(r)
            if not valid_email(cust["email"]) or suppressed(cust, False):
                skipped += 1
                continue
            occ = (datetime.date.fromisoformat(r["end_date"][:10]) - datetime.timedelta(days=days)).isoformat()
            row = {"id": r["k_id"], "product": r["product"], "end_date": r["end_date"]}
            due.append(("contract-renewal", step, r["k_id"], occ, "renewal-%dd" % days, cust, row, False))

    def build(item):
        campaign, step, row_id, occ, tpl, cust, row, html = item
        en = (cust.get("locale") or "").startswith("en")
        base = tpl + (".en" if en else "")
        ctx = {"customer": cust, "row": row, "sender": SENDER, "today": today.isoformat()}
        msg = EmailMessage()
        msg["From"] = formataddr((SENDER["name"], SENDER["email"]))
        msg["To"] = formataddr((cust.get("name") or "", cust["email"]))
        msg["Subject"] = env.get_template(base + ".subject.j2").render(ctx).strip()
        msg["Date"] = formatdate(localtime=True)
        msg["Message-ID"] = make_msgid(domain="bank.example.cn")
        msg.set_content(env.get_template(base + ".txt.j2").render(ctx), charset="utf-8", cte="quoted-printable")
        if html:
            msg.add_alternative(env.get_template(tpl + ".html.j2").render(ctx), subtype="html",
                                charset="utf-8", cte="quoted-printable")
        return msg

    sent = 0
    smtp = smtplib.SMTP(host, port, timeout=30)
    try:
        for i in range(0, len(due), BATCH):
            batch = []
            now = datetime.datetime.now(datetime.timezone.utc).isoformat()
            with db:   # claim the batch: recorded before sending, never sent twice
                for item in due[i:i + BATCH]:
                    cur = db.execute("INSERT OR IGNORE INTO peer_sent VALUES (?, ?, ?, ?, ?)", (*item[:4], now))
                    if cur.rowcount == 1:
                        batch.append(item)
            for item in batch:
                smtp.send_message(build(item))
                sent += 1
    finally:
        smtp.quit()
    print("sent %d" % sent)
    print("skipped %d" % skipped)


if __name__ == "__main__":
    main()
