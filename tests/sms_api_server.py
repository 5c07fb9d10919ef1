# sms_api_server.py - a local HTTP server for the SMS API tests
# (t_twilio.sh, t_http_json.sh), started by the test on 127.0.0.1:
#   python3 tests/sms_api_server.py twilio|json PORT FOLDER
# mode "twilio": it stands in for Twilio's REST API (api.twilio.com
# cannot be reached from the test machine) and answers in Twilio's
# documented format: POST /2010-04-01/Accounts/SID/Messages.json
# with form fields To, Body, From|MessagingServiceSid, StatusCallback and
# basic auth -> 201 {"sid": "SM...", "status": "queued", ...}; errors as
# {"code": N, "message": "...", "more_info": ..., "status": N}.  mode
# "json": a real webhook receiver.  Each request is appended to
# requests.jsonl; plan.json maps a recipient to the answers it gets, in
# turn ("ok", "429:SECONDS", "429date:SECONDS", "500", "503", "21610",
# "400"); after the list (or for other recipients) the answer is "ok".
import base64, json, os, sys, threading, time, uuid, email.utils
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

mode, port, folder = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lock = threading.Lock()
state = {"inflight": 0, "max_inflight": 0}
plan = {}
if os.path.exists(os.path.join(folder, "plan.json")):
    plan = json.load(open(os.path.join(folder, "plan.json")))

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, as the real APIs
    def log_message(self, *a): pass

    def answer(self, code, obj, extra=None):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items(): self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n).decode("utf-8")
        with lock:
            state["inflight"] += 1
            state["max_inflight"] = max(state["max_inflight"], state["inflight"])
        time.sleep(0.3)   # long enough for requests to overlap
        rec = {"path": self.path, "client": self.client_address[1], "raw": raw,
               "headers": {k: v for k, v in self.headers.items()}}
        if mode == "twilio":
            rec["form"] = dict(parse_qsl(raw, keep_blank_values=True))
            to = rec["form"].get("To", "")
        else:
            try:
                rec["json"] = json.loads(raw); rec["valid"] = True
            except Exception as e:
                rec["valid"] = False; rec["error"] = str(e)
            to = (rec.get("json") or {}).get("phone", "") if rec["valid"] else ""
        with lock:
            todo = plan.get(to, [])
            what = todo.pop(0) if todo else "ok"
            state["inflight"] -= 1
            rec["answer"] = what
            if what == "ok": rec["sid"] = "SM" + uuid.uuid4().hex
            with open(os.path.join(folder, "requests.jsonl"), "a") as f:
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            with open(os.path.join(folder, "stats.json"), "w") as f:
                json.dump(state, f)
        if what == "ok":
            if mode == "twilio":
                self.answer(201, {"sid": rec["sid"], "status": "queued", "to": to,
                                  "account_sid": self.path.split("/")[3], "body": rec["form"].get("Body"),
                                  "error_code": None, "error_message": None,
                                  "subresource_uris": {"media": "/media.json"}})
            else:
                self.answer(200, {"accepted": True})
        elif what.startswith("429"):
            secs = int(what.split(":")[1])
            ra = email.utils.formatdate(time.time() + secs, usegmt=True) if what.startswith("429date") else str(secs)
            self.answer(429, {"code": 20429, "message": "Too Many Requests", "status": 429}, {"Retry-After": ra})
        elif what in ("500", "503"):
            self.answer(int(what), {"code": 20500, "message": "Internal Server Error", "status": int(what)})
        elif what == "21610":
            self.answer(400, {"code": 21610, "message": "Attempt to send to unsubscribed recipient",
                              "more_info": "https://www.twilio.com/docs/errors/21610", "status": 400})
        else:
            self.answer(400, {"code": 21211, "message": "The 'To' number %s is not a valid phone number." % to,
                              "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400})

ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
