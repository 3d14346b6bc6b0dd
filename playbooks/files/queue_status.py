#!/usr/bin/python3
"""Print the Murano task queues of one RabbitMQ vhost as aligned lines (JSON).

Run on the broker host by playbooks/status.yml with the vhost as argument;
reads the queues with rabbitmqctl only.
"""

import json
import subprocess
import sys

QUEUES = ("tasks", "tasks.dead-letter")
COLUMNS = ("messages", "messages_ready", "messages_unacknowledged", "consumers")
HEADER = ("queue", "messages", "ready", "unacked", "consumers")


def main():
    vhost = sys.argv[1]
    output = subprocess.run(
        ["rabbitmqctl", "--quiet", "list_queues", "-p", vhost, "name", *COLUMNS]
        + ["--formatter", "json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = {queue["name"]: queue for queue in json.loads(output)}
    rows = [HEADER]
    for name in QUEUES:
        queue = found.get(name)
        if queue is None:
            rows.append((name, "absent", "-", "-", "-"))
        else:
            rows.append((name, *(str(queue[c]) for c in COLUMNS)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows
    ]
    dead = found.get("tasks.dead-letter", {}).get("messages", 0)
    lines.append(f"vhost {vhost}: {dead} dead-lettered tasks")
    print(json.dumps({"queues": found, "lines": lines}))


if __name__ == "__main__":
    main()
