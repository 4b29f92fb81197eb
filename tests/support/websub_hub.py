#!/usr/bin/env python3
"""A real WebSub hub and a real subscriber on loopback, for tests/websub.rs.

Both are Flask-WebSub's (PyPI `flask-websub`): its hub verifies a
subscriber's intent with a GET carrying `hub.challenge`, and on a publish
fetches the topic and POSTs it to every subscriber's callback with the
topic's headers (`Link` included: it refuses a topic without `rel="hub"`
and `rel="self"`). Its tasks run in Celery, here with no outside service:
an in-memory broker and `task_always_eager`, so each task runs in the
request that starts it.

One adaptation: Flask-WebSub's hub reads a publish's topic from
`hub.topic`, while the publish ping PubSubHubbub 0.4 defined, which
public hubs accept and bantin sends (SPEC "WebSub"), names it `hub.url`.
A WSGI layer in front of the hub records every publish request as sent and
copies `hub.url` into `hub.topic` when only the former is there.

Usage: websub_hub.py. Prints `listening on http://127.0.0.1:PORT` once
ready and serves until its standard input closes (the test's end).

Routes:
  POST /hub                  the hub (subscribe, unsubscribe, publish)
  GET|POST /callbacks/<id>   the subscriber's callbacks
  POST /test/subscribe       form `url`: discover the hub and topic of that
                             URL (Link headers, then the document) and
                             subscribe; answers the discovery as JSON
  GET  /test/events          JSON: publishes (form and content type as the
                             hub got them), notifications (topic and body the
                             subscriber got), subscriptions confirmed
"""

import base64
import io
import json
import sys
import tempfile
import threading
import urllib.parse

from celery import Celery
from flask import Flask, jsonify, request
from flask_websub.hub import Hub, SQLite3HubStorage
from flask_websub.subscriber import (
    SQLite3SubscriberStorage,
    SQLite3TempSubscriberStorage,
    Subscriber,
    discover,
)
from werkzeug.serving import make_server

lock = threading.Lock()
events = {"publishes": [], "notifications": [], "subscribed": [], "denied": []}


def record(kind, item):
    with lock:
        events[kind].append(item)


class PublishRecorder:
    """Records each publish request to the hub as sent, and names its topic
    `hub.topic` for Flask-WebSub (see the module doc)."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == "/hub" and environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length)
            form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
            if form.get("hub.mode") == ["publish"]:
                record("publishes", {
                    "body": body.decode("utf-8", "replace"),
                    "form": form,
                    "content_type": environ.get("CONTENT_TYPE", ""),
                })
                if "hub.topic" not in form and "hub.url" in form:
                    pairs = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True)
                    pairs.append(("hub.topic", form["hub.url"][0]))
                    body = urllib.parse.urlencode(pairs).encode("ascii")
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return self.app(environ, start_response)


def build(workdir):
    app = Flask(__name__)
    # The hub takes publish requests only with this set (Flask-WebSub keeps
    # it off by default because it checks nothing about the topic).
    app.config["PUBLISH_SUPPORTED"] = True

    celery = Celery("websub_hub", broker="memory://", backend="cache+memory://")
    celery.conf.update(task_always_eager=True)

    hub = Hub(
        SQLite3HubStorage(f"{workdir}/hub.db"),
        celery,
        PUBLISH_SUPPORTED=True,
        REQUEST_TIMEOUT=20,
        BACKOFF_BASE=0.1,
        MAX_ATTEMPTS=3,
    )
    app.register_blueprint(hub.build_blueprint(url_prefix="/hub"))

    subscriber = Subscriber(
        SQLite3SubscriberStorage(f"{workdir}/subscriber.db"),
        SQLite3TempSubscriberStorage(f"{workdir}/subscriber-temp.db"),
        REQUEST_TIMEOUT=20,
        MAX_BODY_SIZE=16 * 1024 * 1024,
    )
    app.register_blueprint(subscriber.build_blueprint(url_prefix="/callbacks"))

    @subscriber.add_listener
    def on_notification(topic_url, callback_id, body):
        record("notifications", {
            "topic": topic_url,
            "callback_id": callback_id,
            "body": base64.b64encode(body).decode("ascii"),
        })

    @subscriber.add_success_handler
    def on_success(topic_url, callback_id, mode):
        record("subscribed", {"topic": topic_url, "callback_id": callback_id, "mode": mode})

    @subscriber.add_error_handler
    def on_error(topic_url, callback_id, reason):
        record("denied", {"topic": topic_url, "callback_id": callback_id, "reason": reason})

    @app.route("/test/subscribe", methods=["POST"])
    def test_subscribe():
        found = discover(request.form["url"], timeout=20)
        # The hub verifies intent (a GET to our callback) before it answers.
        callback_id = subscriber.subscribe(**found)
        return jsonify({**found, "callback_id": callback_id})

    @app.route("/test/events")
    def test_events():
        with lock:
            return jsonify(events)

    app.wsgi_app = PublishRecorder(app.wsgi_app)
    return app


def main():
    workdir = tempfile.mkdtemp(prefix="websub-hub-")
    app = build(workdir)
    # Threaded: the hub's eager tasks call back into this same server (the
    # subscriber's callback) while a request is in progress.
    server = make_server("127.0.0.1", 0, app, threaded=True)
    print(f"listening on http://127.0.0.1:{server.server_port}", flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # Serve until the test closes our standard input (or dies).
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
