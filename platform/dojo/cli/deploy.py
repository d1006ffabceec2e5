"""`dojo deploy VERSION`: release a registered version, health-check it, roll back on failure."""

from __future__ import annotations

import os
from enum import StrEnum
from typing import Annotated

import typer

from dojo.cli.common import console, fail, settings_or_exit


class TargetName(StrEnum):
    local = "local"
    docker = "docker"
    k8s = "k8s"


def deploy(
    version: Annotated[str, typer.Argument(
        help="A version number (3), an alias (challenger) or latest.")],
    target: Annotated[TargetName, typer.Option(
        "--target", help="local: the stack's model server; docker: the model-server "
        "container; k8s: Deployment model-server in namespace dojo.")] = TargetName.local,
    force: Annotated[bool, typer.Option(
        "--force", help="Deploy a version that did not pass the training gates.")] = False,
    image: Annotated[str | None, typer.Option(
        "--image", help="k8s only: set this image on the Deployment (default: restart its "
        "pods so they load the new champion).")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print the commands the target would run, change nothing.")] = False,
) -> None:
    """Move VERSION into service: alias, reload, health check, smoke test, automatic rollback.

    Exit codes: 0 deployed; 1 failed and rolled back (the previous version serves); 2 bad
    input; 3 a prerequisite is missing (model server, Docker engine, kubectl or cluster);
    4 failed and the rollback did not recover.
    """
    from dojo.delivery.deploy import BAD_INPUT, DEPLOYED, DeployInputError
    from dojo.delivery.deploy import deploy as run_deploy
    from dojo.delivery.targets import KubernetesTarget, make_target
    from dojo.training.errors import DependencyDown
    from dojo.training.tracking import client as mlflow_client

    settings = settings_or_exit()
    if image and target is not TargetName.k8s:
        raise fail("--image applies to --target k8s only", code=BAD_INPUT)
    chosen = make_target(target.value, settings, image=image)
    if dry_run:
        plan = chosen.plan() if isinstance(chosen, KubernetesTarget) else None
        if plan is None:
            raise fail("--dry-run prints the kubectl plan: use it with --target k8s",
                       code=BAD_INPUT)
        for phase, commands in plan.items():
            for command in commands:
                console.print(f"{phase:>6}: {' '.join(command)}", soft_wrap=True)
        console.print("Nothing was changed (dry run). Without --dry-run the same commands run, "
                      "and `undo` only when the health check or smoke test fails.")
        return
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        result = run_deploy(settings, lambda: mlflow_client(settings), chosen, version, force,
                            lambda line: console.print(line, soft_wrap=True))
    except DeployInputError as error:
        raise fail(str(error), code=BAD_INPUT) from None
    except DependencyDown as error:
        raise fail(str(error), code=3) from None
    finally:
        chosen.close()
    if result.code == DEPLOYED:
        console.print(f"[green]deployed[/] {result.message}. Check: `dojo model list`; undo: "
                      "`dojo model rollback`.")
        return
    if result.code == 3:
        raise fail(result.message, code=3)
    raise fail(f"{result.message} (exit {result.code}; see `dojo model list` and "
               "`dojo logs model-server`)", code=result.code)
