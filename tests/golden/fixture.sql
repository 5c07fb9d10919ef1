-- The golden suite's customers and related rows: small enough to check
-- every expected line by hand (see expected/*.jsonl).
CREATE TABLE customers(id TEXT PRIMARY KEY, name TEXT, email TEXT, phone TEXT, birth_date TEXT,
  locale TEXT, timezone TEXT, status TEXT, email_opt_in INTEGER, sms_opt_in INTEGER,
  preferred_channel TEXT, created_at TEXT);
INSERT INTO customers VALUES
 ('G01', '李娜', 'li.na@example.cn', '+8613800138001', '1992-02-29', 'zh-CN', 'Asia/Shanghai', 'active', 1, 1, 'sms', '2019-01-31 10:00:00'),
 ('G02', 'Ann Lee', 'ann@example.com', '+12125550102', '1985-02-28', 'en-US', 'America/New_York', 'active', 1, 0, 'email', '2020-03-14 08:00:00'),
 ('G03', '王伟', NULL, '+8613800138003', '1979-03-01', 'zh-CN', NULL, 'active', 0, 1, NULL, '2021-06-30 12:00:00'),
 ('G04', 'Tom Hill', 'tom@example.co.uk', NULL, '1990-03-14', 'en-GB', 'Europe/London', 'active', 1, 1, NULL, '2022-01-15 09:00:00'),
 ('G05', 'Ray Diaz', 'ray@example.com', NULL, '1988-03-14', 'en-US', 'America/New_York', 'active', 1, 1, 'email', '2022-05-01 09:00:00'),
 ('G06', '赵敏', 'zhao@example.cn', '+8613800138006', '1995-03-28', 'zh-CN', 'Asia/Shanghai', 'closed', 1, 1, NULL, '2023-02-01 09:00:00'),
 ('G07', 'Kim Park', 'kim@example.com', NULL, '1999-03-28', 'en-GB', 'Europe/London', 'active', 1, 1, 'email', '2024-12-31 23:00:00'),
 ('G08', '陈静', 'bad-address', '12345', '2000-01-31', 'zh-CN', 'Asia/Shanghai', 'active', 1, 1, NULL, '2025-01-31 09:00:00');
CREATE TABLE contracts(id TEXT PRIMARY KEY, customer_id TEXT, product TEXT, start_date TEXT, end_date TEXT,
  status TEXT, auto_renew INTEGER);
INSERT INTO contracts VALUES
 ('K1', 'G01', '宽带', '2026-01-31', '2027-03-30', 'active', 0),
 ('K2', 'G02', 'Broadband', '2026-03-31', '2027-04-07', 'active', 0),
 ('K3', 'G04', 'Insurance', '2025-02-28', '2027-03-29', 'active', 1),
 ('K4', 'G05', 'Mobile', '2026-12-31', '2027-04-30', 'active', 0);
CREATE TABLE repairs(id TEXT PRIMARY KEY, customer_id TEXT, closed_at TEXT, status TEXT, rating INTEGER);
INSERT INTO repairs VALUES
 ('R1', 'G01', '2027-02-25 15:00:00', 'closed', NULL),
 ('R2', 'G02', '2027-02-26 08:00:00', 'closed', 5),
 ('R3', 'G03', '2027-02-10 11:00:00', 'closed', 2),
 ('R4', 'G04', '2027-02-27 10:00:00', 'open', NULL);
