"""An agent in its own process: arena-bench run --model exec:"python examples/exec_agent.py"

Reads one JSON observation a line on standard input (format exec-observation/1, see the README),
writes one JSON reply a line. Any language can do the same.
"""

import json
import sys

for line in sys.stdin:
    obs = json.loads(line)
    points = obs["you"]["points"]  # {issue: {option: points}}: own table only
    best = {issue: max(options, key=options.get) for issue, options in points.items()}
    table = obs["standing_offer"]
    if obs["can_accept"] and sum(points[i][o] for i, o in table.items()) >= max(
        50, obs["you"]["batna_points"]
    ):
        reply = {"message": "That works for me.", "action": "accept"}
    else:
        reply = {"message": "Here is what I need.", "action": "propose", "offer": best}
    print(json.dumps(reply), flush=True)
