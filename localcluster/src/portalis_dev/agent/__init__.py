"""The local node agent: a kubelet stand-in that keeps its nodes Ready and runs their pods as processes.

See docs/local-node-agent.md. Start it with `portalis-dev agent --nodes spot=1,on-demand=1`, or from
Python with `start_agent(cluster, nodes={"spot": 1, "on-demand": 1}, pool="e2e")` / `stop_agent(...)`.
"""

from portalis_dev.agent.managed import log_path, start_agent, stop_agent

__all__ = ["log_path", "start_agent", "stop_agent"]
