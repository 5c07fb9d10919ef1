"""The Jinja2 baseline for bench/render_bench.c: the same example templates
(birthday and renewal-30d, SMS and email with subject and HTML body), written
in Jinja2, rendered with the same variables built afresh per message from rows made
before the clock starts.
Templates are compiled once (Environment caches them), as a team would.
usage: /usr/bin/python3 render_jinja2.py MESSAGES"""
import sys, time
import jinja2

env = jinja2.Environment(loader=jinja2.DictLoader({
    "birthday.sms": '{{ customer.name | default("尊敬的客户", true) }}，生日快乐！{{ sender.name }}为您准备了一份生日礼券，祝您新的一岁平安喜乐。\n',
    "birthday.subject": "{{ customer.name | default('尊敬的客户', true) }}，祝您生日快乐",
    "birthday.email": '{{ customer.name | default("尊敬的客户", true) }}，您好：\n\n今天是您的生日，{{ sender.name }}全体员工祝您生日快乐！\n\n我们为您准备了一份生日礼券，已放入您的账户，一个月内有效。\n感谢您一直以来的信任与支持。\n\n{{ sender.name }}\n',
    "birthday.html": '<!doctype html>\n<html lang="zh-CN"><body style="font-family: sans-serif">\n<p>{{ customer.name | default("尊敬的客户", true) }}，您好：</p>\n<p>今天是您的生日，{{ sender.name }}全体员工祝您<strong>生日快乐</strong>！</p>\n<p>我们为您准备了一份生日礼券，已放入您的账户，一个月内有效。</p>\n<p>{{ sender.name }}</p>\n</body></html>\n',
    "renewal-30d.sms": '温馨提醒：{{ customer.name | default("尊敬的客户", true) }}，您的{{ row.product }}将于{{ row.end_date }}到期（还有30天），续约请回复或致电客服。\n',
    "renewal-30d.subject": "温馨提醒：您的{{ row.product }}将于{{ row.end_date }}到期",
    "renewal-30d.email": '{{ customer.name | default("尊敬的客户", true) }}，您好：\n\n温馨提醒：您的{{ row.product }}（合同号 {{ row.id }}）将于 {{ row.end_date }} 到期，距今还有 30 天。\n如需续约，请回复本邮件或致电客服，我们将为您办理。\n\n{{ sender.name }}\n',
}), autoescape=False)
html_env = jinja2.Environment(loader=env.loader, autoescape=True)

# One customer's data as a row, made before the clock starts (as in
# render_bench.c): the timed loop builds the variables and renders.
def make_row(i):
    name = ("李娜" if i % 2 else "王建国") + str(i % 97)
    return ("C-%06d" % (i % 1000000), name, "2026-12-%02d" % (1 + i % 28), 20 + i % 60)

def fill(r):
    return {"customer": {"id": r[0], "name": r[1], "first_name": r[1][1:], "email": "li.na@example.cn",
                         "phone": "+8613800138000", "locale": "zh-CN"},
            "row": {"id": "K-0001042", "product": "宽带套餐", "end_date": r[2]},
            "vars": {"age": r[3]}, "sender": {"name": "关怀银行", "email": "care@bank.example.cn"},
            "campaign": {"id": "birthday-greeting"}, "today": "2026-11-24"}

n = int(sys.argv[1])
rows = [make_row(i) for i in range(n)]
for name, channel in (("birthday", "sms"), ("birthday", "email"), ("renewal-30d", "sms"), ("renewal-30d", "email")):
    if channel == "sms":
        parts = [env.get_template(name + ".sms")]
    else:
        parts = [env.get_template(name + ".subject"), env.get_template(name + ".email")]
        if name == "birthday":
            parts.append(html_env.get_template(name + ".html"))
    t0 = time.perf_counter()
    size = 0
    for i in range(n):
        ctx = fill(rows[i])
        for t in parts:
            size += len(t.render(ctx).encode())
    dt = time.perf_counter() - t0
    print("%s.%s %d %.4f %.0f %d" % (name, channel, n, dt, n / dt, size // max(n, 1)))
