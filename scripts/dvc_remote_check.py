"""Before `dvc push/pull/fetch`: does the S3 remote's bucket exist? (run by scripts/dvc)

DVC itself reports a missing bucket without naming it on push ("The specified
bucket does not exist") and, on pull, as missing cache files. This check runs in
DVC's own environment with the remote exactly as DVC configures it (url,
endpointurl, profile, credentials from the environment) and stops with an error
that names the remote, its URL, the bucket and the endpoint. It prints no
credentials. Remotes other than S3 are left to DVC.

Usage: .tools/dvc/bin/python scripts/dvc_remote_check.py push|pull|fetch [DVC ARGS...]
"""

from __future__ import annotations

import sys


def remote_name(args: list[str]) -> str | None:
    """The ``-r/--remote`` argument of a DVC command line, if any."""
    for i, arg in enumerate(args):
        if arg in ("-r", "--remote") and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--remote="):
            return arg.split("=", 1)[1]
        if arg.startswith("-r") and len(arg) > 2 and not arg.startswith("--"):
            return arg[2:]
    return None


def main(args: list[str]) -> int:
    if any(arg in ("-h", "--help") for arg in args):
        return 0
    from dvc.repo import Repo

    try:
        repo = Repo()
    except Exception:  # not a DVC repo etc.: DVC says so itself
        return 0
    name = remote_name(args[1:]) or repo.config["core"].get("remote")
    if not name or name not in repo.config["remote"]:
        return 0  # no remote (or an unknown one): DVC's own message is clear
    url = repo.config["remote"][name]["url"]
    if not url.startswith("s3://"):
        return 0
    remote = repo.cloud.get_remote(name)
    bucket = remote.path.split("/", 1)[0]
    endpoint = repo.config["remote"][name].get("endpointurl") or "AWS S3"
    try:
        exists = remote.fs.exists(bucket)
    except Exception as exc:  # no credentials, endpoint down, access denied
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"ERROR: DVC remote '{name}' ({url}): cannot reach bucket '{bucket}' at {endpoint}: {reason}",
              file=sys.stderr)
        return 1
    if not exists:
        print(f"ERROR: DVC remote '{name}' ({url}): bucket '{bucket}' does not exist at {endpoint} (or these "
              f"credentials cannot see it). Create it, or point the remote at an existing one: "
              f"scripts/dvc remote modify {name} url s3://<bucket>/<prefix>", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
