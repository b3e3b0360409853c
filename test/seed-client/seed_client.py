"""The two client functions of the original guard document, unchanged but for the
credentials, which come from the demo (DATA_DIR/demo-credentials.json)."""
import json
import os
import sys

import requests

credentials = json.load(open(os.path.join(os.environ["DATA_DIR"], "demo-credentials.json")))
API_KEY = credentials["api_key"]
SECRET_KEY = credentials["secret_key"]
PORT = os.environ.get("PORT", "3000")


def authenticate():
    url = f"http://localhost:{PORT}/api/guard/auth"
    headers = {
        "Content-Type": "application/json",
        "Authorization": API_KEY,
        "SecretKey": SECRET_KEY,
    }
    payload = {
        "model": "cogvlm-chat-17b",
        "messages": [
            {"role": "system", "content": "You are a poetic assistant, skilled in explaining complex programming concepts with creative flair."},
            {"role": "user", "content": "Compose a poem that explains the concept of recursion in programming."}
        ]
    }
    response = requests.post(url, json=payload, headers=headers)
    return response.json()


def log_usage():
    url = f"http://localhost:{PORT}/api/guard/log-usage"
    headers = {
        "Content-Type": "application/json",
        "Authorization": API_KEY,
        "SecretKey": SECRET_KEY,
    }
    payload = {
        "model": "cogvlm-chat-17b",
        "temperature": 0.7,
        "top_p": 0.9,
        "input_cost": 0.5,
        "output_cost": 0.3,
        "total_cost": 0.8,
        "input_tokens": 100,
        "output_tokens": 80,
        "max_tokens": 200,
        "messages": [
            {"role": "system", "content": "You are a poetic assistant, skilled in explaining complex programming concepts with creative flair."},
            {"role": "user", "content": "Compose a poem that explains the concept of recursion in programming."}
        ]
    }
    response = requests.post(url, json=payload, headers=headers)
    return response.json()


if __name__ == "__main__":
    results = {"authenticate": authenticate(), "log_usage": log_usage()}
    print(json.dumps(results, indent=2))
    if any(result.get("message") != "Success" for result in results.values()):
        sys.exit(1)
