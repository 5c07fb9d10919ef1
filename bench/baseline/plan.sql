-- The hand-written baseline for the plan benchmark: the audiences of
-- bench/rules-plan (birthday, contract renewal, post-repair) due on :today
-- with one day of grace, as a person would write them for the sqlite3
-- shell.  It only selects who is due; carecast also checks channels,
-- consent and the never-twice ledger and renders every message.
-- :today is replaced by bench/run.sh.
SELECT 'birthday-greeting', 'main', id FROM customers
 WHERE status = 'active'
   AND (substr(birth_date, 6, 5) IN (substr(date(':today', '-1 day'), 6, 5), substr(':today', 6, 5))
        OR (substr(birth_date, 6, 5) = '02-29' AND substr(':today', 6, 5) IN ('02-28', '03-01')
            AND CAST(substr(':today', 1, 4) AS INTEGER) % 4 <> 0))
   AND substr(birth_date, 1, 4) < substr(':today', 1, 4);
SELECT 'contract-renewal', 'notice-30d', id FROM contracts
 WHERE status = 'active' AND auto_renew = 0 AND date(end_date, '-30 days') BETWEEN date(':today', '-1 day') AND ':today';
SELECT 'contract-renewal', 'notice-7d', id FROM contracts
 WHERE status = 'active' AND auto_renew = 0 AND date(end_date, '-7 days') BETWEEN date(':today', '-1 day') AND ':today';
SELECT 'contract-renewal', 'last-call', id FROM contracts
 WHERE status = 'active' AND auto_renew = 0 AND date(end_date, '-1 day') BETWEEN date(':today', '-1 day') AND ':today';
SELECT 'post-repair-follow-up', 'survey', id FROM repairs
 WHERE status = 'closed' AND datetime(closed_at, '+3 days') BETWEEN datetime(':today', '-1 day') AND datetime(':today');
SELECT 'post-repair-follow-up', 'check-back', id FROM repairs
 WHERE status = 'closed' AND (rating IS NULL OR rating < 4)
   AND datetime(closed_at, '+14 days') BETWEEN datetime(':today', '-1 day') AND datetime(':today');
