"""Where a deploy lands: the local model server, a Docker container, or a Kubernetes Deployment.

Every target serves `models:/<name>@champion`, so a deploy is the same in all three: move the
alias, make the server pick it up, check it, and undo both on failure. What differs is how the
server picks it up (an admin reload, or new pods) and what must exist first (an image, a
container, a cluster). Each target names what is missing in one line, before anything moves.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Sequence
from typing import Protocol

from dojo.delivery.server_api import ServerApi, ServerError
from dojo.runtime.ports import free_port
from dojo.runtime.waiting import wait_until
from dojo.settings import REPO_ROOT, Settings

Say = Callable[[str], None]
PROBE_TIMEOUT_S = 15.0
DOCKER_HINT = ("needs a Docker engine: install Docker Engine "
               "(https://docs.docker.com/engine/install/) and start it")
KUBECTL_HINT = "needs kubectl: install it (https://kubernetes.io/docs/tasks/tools/)"
CLUSTER_HINT = ("needs a reachable Kubernetes cluster: create one (`kind create cluster` or "
                "`minikube start`) until `kubectl cluster-info` answers")


class TargetError(RuntimeError):
    """The target could not do a step (a command failed); the message says which."""


class Target(Protocol):
    name: str

    def missing(self) -> str | None: ...
    def prepare(self, say: Say) -> None: ...
    def server(self) -> ServerApi: ...
    def apply(self, say: Say) -> None: ...
    def undo(self, say: Say) -> None: ...
    def close(self) -> None: ...


def run(command: Sequence[str], timeout_s: float = 120.0) -> subprocess.CompletedProcess[str]:
    """Run a command; raise TargetError with its last output line when it fails."""
    try:
        done = subprocess.run(list(command), capture_output=True, text=True, timeout=timeout_s,
                              stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise TargetError(f"`{' '.join(command)}`: {type(error).__name__}") from None
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise TargetError(f"`{' '.join(command)}` exited {done.returncode}: {last[0]}")
    return done


def succeeds(command: Sequence[str]) -> bool:
    try:
        run(command, timeout_s=PROBE_TIMEOUT_S)
    except TargetError:
        return False
    return True


def reload(api: ServerApi, say: Say) -> None:
    """Ask the server to load the moved alias now; if it does not answer, its watcher still
    will at its next poll, and the health check that follows is what decides."""
    try:
        changes = api.reload()
    except ServerError as error:
        say(f"      reload not confirmed ({error}); the server's alias watcher polls anyway")
        return
    say(f"      server reloaded: {', '.join(changes) or 'no alias change seen yet'}")


class _ProcessTarget:
    """A target whose server keeps running across a deploy: moving the alias and asking the
    server to reload is the whole change, and undoing it is the same call after the alias
    moved back."""

    api: ServerApi

    def server(self) -> ServerApi:
        return self.api

    def apply(self, say: Say) -> None:
        reload(self.api, say)

    undo = apply

    def close(self) -> None:
        self.api.close()


class LocalTarget(_ProcessTarget):
    """The stack's model server (`make up` supervises it; `dojo serve` runs one by hand)."""

    name = "local"

    def __init__(self, settings: Settings) -> None:
        self.url = f"http://{settings.host}:{settings.serving_port}"
        self.api = ServerApi(self.url, settings.serving_admin_token)

    def missing(self) -> str | None:
        if not self.api.alive():
            return (f"needs the model server at {self.url}: start the stack with `make up` "
                    "(or `dojo serve`)")
        return None

    def prepare(self, say: Say) -> None:
        say(f"model server at {self.url} answers /health")


class DockerTarget(_ProcessTarget):
    """The model-server image run as one container on the host network."""

    name = "docker"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.image = settings.deploy_docker_image
        self.container = settings.deploy_docker_container
        self.url = f"http://127.0.0.1:{settings.deploy_docker_port}"
        self.api = ServerApi(self.url, settings.serving_admin_token)

    def missing(self) -> str | None:
        if shutil.which("docker") is None or not succeeds(["docker", "info"]):
            return DOCKER_HINT
        return None

    def run_command(self) -> list[str]:
        """`docker run` of the server: read-only, settings as DOJO_* variables (as in lab 03)."""
        from dojo.features.spec import feast_dir

        s = self.settings
        return ["docker", "run", "--detach", "--name", self.container, "--network", "host",
                "--read-only", "--tmpfs", "/tmp",
                "--volume", f"{feast_dir(s)}:/var/lib/dojo/feast",
                "--env", f"DOJO_HOST={s.host}",
                "--env", f"DOJO_SERVING_PORT={s.deploy_docker_port}",
                "--env", f"DOJO_MLFLOW_TRACKING_URI={s.tracking_uri}",
                "--env", f"DOJO_KAFKA_BOOTSTRAP={s.bootstrap_servers}",
                "--env", f"DOJO_REGISTERED_MODEL={s.registered_model}",
                "--env", f"DOJO_SERVING_ADMIN_TOKEN={s.serving_admin_token}",
                self.image]

    def prepare(self, say: Say) -> None:
        if not succeeds(["docker", "image", "inspect", self.image]):
            say(f"image {self.image} not found: building it (platform/scripts/build-image.sh, "
                "a few minutes the first time)")
            script = REPO_ROOT / "platform" / "scripts" / "build-image.sh"
            run([str(script)], timeout_s=3600)
        say(f"image {self.image} present")
        state = subprocess.run(["docker", "inspect", "--format", "{{.State.Running}}",
                                self.container], capture_output=True, text=True, check=False)
        if state.stdout.strip() != "true":
            if state.returncode == 0:
                run(["docker", "rm", "--force", self.container])
            run(self.run_command())
            say(f"started container {self.container} ({self.url})")
        else:
            say(f"container {self.container} running ({self.url})")
        if not wait_until(self.api.alive, 120, first_pause_s=0.2, max_pause_s=2.0).ok:
            logs = subprocess.run(["docker", "logs", "--tail", "5", self.container],
                                  capture_output=True, text=True, check=False)
            raise TargetError(f"container {self.container} does not answer {self.url}/health; "
                              f"last log lines: {(logs.stdout + logs.stderr).strip()[-300:]}")


class KubernetesTarget:
    """Deployment `model-server` (namespace `dojo`): new pods load the new champion.

    Why a restart (or a new image) rather than an admin reload: replicas behind a Service
    cannot each be reached by one POST, and a rollout replaces them gradually behind their
    readiness probes; `kubectl rollout undo` is the same mechanism backwards.
    """

    name = "k8s"

    def __init__(self, settings: Settings, image: str | None = None,
                 wait_s: float = 300.0) -> None:
        self.settings = settings
        self.image = image
        self.wait_s = wait_s
        self.local_port = 0
        self._forward: subprocess.Popen[bytes] | None = None
        self.api: ServerApi | None = None

    def _kubectl(self, *args: str) -> list[str]:
        return ["kubectl", "--namespace", self.settings.deploy_k8s_namespace, *args]

    def plan(self) -> dict[str, list[list[str]]]:
        """Every kubectl command of a deploy, by phase (what `--dry-run` prints)."""
        s = self.settings
        deployment = f"deployment/{s.deploy_k8s_deployment}"
        change = (self._kubectl("set", "image", deployment,
                                f"{s.deploy_k8s_container}={self.image}") if self.image
                  else self._kubectl("rollout", "restart", deployment))
        wait = self._kubectl("rollout", "status", deployment, f"--timeout={self.wait_s:.0f}s")
        return {
            "check": [["kubectl", "cluster-info", "--request-timeout=5s"],
                      self._kubectl("get", deployment)],
            "apply": [change, wait],
            "smoke": [self._kubectl("port-forward", deployment,
                                    f"<LOCAL_PORT>:{s.deploy_k8s_port}")],
            "undo": [self._kubectl("rollout", "undo", deployment), wait],
        }

    def missing(self) -> str | None:
        if shutil.which("kubectl") is None:
            return KUBECTL_HINT
        if not succeeds(["kubectl", "cluster-info", "--request-timeout=5s"]):
            return CLUSTER_HINT
        return None

    def prepare(self, say: Say) -> None:
        for command in self.plan()["check"]:
            run(command)
        say(f"{self.settings.deploy_k8s_namespace}/{self.settings.deploy_k8s_deployment} found")

    def _commands(self, phase: str, say: Say) -> None:
        for command in self.plan()[phase]:
            say(f"$ {' '.join(command)}")
            run(command, timeout_s=self.wait_s + 30)
        self._port_forward()

    def apply(self, say: Say) -> None:
        self._commands("apply", say)

    def undo(self, say: Say) -> None:
        self._commands("undo", say)

    def _port_forward(self) -> None:
        """A fresh port-forward after each rollout (the old pods it pointed at are gone)."""
        self._stop_forward()
        self.local_port = free_port()
        command = [part.replace("<LOCAL_PORT>", str(self.local_port))
                   for part in self.plan()["smoke"][0]]
        self._forward = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
        self.api = ServerApi(f"http://127.0.0.1:{self.local_port}",
                             self.settings.serving_admin_token)

    def server(self) -> ServerApi:
        if self.api is None:
            self._port_forward()
        assert self.api is not None
        return self.api

    def _stop_forward(self) -> None:
        if self._forward is not None and self._forward.poll() is None:
            self._forward.terminate()
            self._forward.wait(timeout=10)
        if self.api is not None:
            self.api.close()

    def close(self) -> None:
        self._stop_forward()


def make_target(name: str, settings: Settings, image: str | None = None) -> Target:
    if name == "local":
        return LocalTarget(settings)
    if name == "docker":
        return DockerTarget(settings)
    if name == "k8s":
        return KubernetesTarget(settings, image=image)
    raise ValueError(f"unknown target {name!r}: local, docker or k8s")
