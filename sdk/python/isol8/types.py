"""Typed requests, results and events (the original's ExecutionRequest, ExecutionResult and
StreamEvent, with Python names). Field names map to the API's camelCase; see
docs/openapi.json for every field."""
from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

RUNTIMES = ("python", "node", "bun", "deno", "bash", "agent")


def _drop_none(d: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


@dataclass
class ExecutionRequest:
    code: Optional[str] = None
    runtime: str = "python"
    cmd: Optional[str] = None
    timeout_ms: Optional[int] = None
    env: Optional[Dict[str, str]] = None
    file_extension: Optional[str] = None
    stdin: Optional[str] = None
    args: Optional[List[str]] = None
    files: Optional[Dict[str, str]] = None
    output_paths: Optional[List[str]] = None
    install_packages: Optional[List[str]] = None
    metadata: Optional[Dict[str, Any]] = None
    setup_script: Optional[str] = None
    workdir: Optional[str] = None
    agent_flags: Optional[str] = None

    def to_json(self) -> Dict[str, Any]:
        return _drop_none({
            "code": self.code, "runtime": self.runtime, "cmd": self.cmd, "timeoutMs": self.timeout_ms,
            "env": self.env, "fileExtension": self.file_extension, "stdin": self.stdin, "args": self.args,
            "files": self.files, "outputPaths": self.output_paths, "installPackages": self.install_packages,
            "metadata": self.metadata, "setupScript": self.setup_script, "workdir": self.workdir,
            "agentFlags": self.agent_flags,
        })


@dataclass
class ExecutionResult:
    stdout: str
    stderr: str
    exit_code: int
    duration_ms: int
    truncated: bool
    execution_id: str
    runtime: str
    timestamp: str
    container_id: Optional[str] = None
    timed_out: bool = False
    oom_killed: bool = False
    session_id: Optional[str] = None
    notice: Optional[str] = None
    limits: Optional[Dict[str, Any]] = None
    network_logs: Optional[List[Dict[str, Any]]] = None
    resource_usage: Optional[Dict[str, Any]] = None
    files: Optional[Dict[str, bytes]] = None
    file_errors: Optional[Dict[str, str]] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, d: Dict[str, Any]) -> "ExecutionResult":
        files = d.get("files")
        return cls(
            stdout=d.get("stdout", ""), stderr=d.get("stderr", ""), exit_code=int(d.get("exitCode", -1)),
            duration_ms=int(d.get("durationMs", 0)), truncated=bool(d.get("truncated", False)),
            execution_id=d.get("executionId", ""), runtime=d.get("runtime", ""), timestamp=d.get("timestamp", ""),
            container_id=d.get("containerId"), timed_out=bool(d.get("timedOut", False)),
            oom_killed=bool(d.get("oomKilled", False)), session_id=d.get("sessionId"), notice=d.get("notice"),
            limits=d.get("limits"), network_logs=d.get("networkLogs"), resource_usage=d.get("resourceUsage"),
            files={k: base64.b64decode(v) for k, v in files.items()} if isinstance(files, dict) else None,
            file_errors=d.get("fileErrors"),
            raw=d,
        )


@dataclass
class StreamEvent:
    """type: "stdout" | "stderr" | "exit" | "error"; for exit, data is the exit code as a
    decimal string (exit_code has it as an int); phase: "setup" | "code" | None.
    resource_usage: on the program's exit event, the run's resourceUsage (the same dict as
    ExecutionResult.resource_usage), when isol8d measured it; None otherwise."""
    type: str
    data: str
    phase: Optional[str] = None
    resource_usage: Optional[Dict[str, Any]] = None

    @property
    def exit_code(self) -> Optional[int]:
        return int(self.data) if self.type == "exit" else None

    @classmethod
    def from_json(cls, d: Dict[str, Any]) -> "StreamEvent":
        usage = d.get("resourceUsage")
        return cls(type=str(d.get("type", "")), data=str(d.get("data", "")), phase=d.get("phase"),
                   resource_usage=usage if isinstance(usage, dict) else None)


@dataclass
class SessionInfo:
    id: str
    is_active: bool
    last_accessed_at: str
    runtime: Optional[str] = None
    container_id: Optional[str] = None
    created_at_ms: Optional[int] = None
    idle_ms: Optional[int] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, d: Dict[str, Any]) -> "SessionInfo":
        return cls(id=d["id"], is_active=bool(d.get("isActive", False)), last_accessed_at=d.get("lastAccessedAt", ""),
                   runtime=d.get("runtime"), container_id=d.get("containerId"), created_at_ms=d.get("createdAt"),
                   idle_ms=d.get("idleMs"), raw=d)
