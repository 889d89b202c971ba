"""Error classes, each with the exit code that scripts/apply.py documents."""


class LabError(Exception):
    """Base class: a message for a person and an exit code for scripts."""

    exit_code = 1


class UsageError(LabError):
    """Unknown stage, unknown option, unknown step id."""

    exit_code = 2


class VariableError(UsageError):
    """A variable value broke its pattern, or a variable is not declared."""


class DefinitionError(LabError):
    """stage.yaml, variables.yaml or a manifest file is malformed or breaks a rule."""

    exit_code = 3

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s):\n" + "\n".join(f"  - {p}" for p in problems))


class InvalidManifestError(DefinitionError):
    """kubeconform (or the Python fallback) rejected a rendered manifest."""


class CliMissingError(LabError):
    exit_code = 4


class ClusterUnreachableError(LabError):
    exit_code = 5


class NotLoggedInError(LabError):
    exit_code = 6


class MissingApiError(LabError):
    """A resource type the stage needs is not served by the cluster (CRD missing)."""

    exit_code = 7


class StepFailedError(LabError):
    """A command failed in the middle of a stage."""

    exit_code = 8


class VerifyFailedError(LabError):
    exit_code = 9


class AbortedError(LabError):
    """The user declined a destructive action, or it needs --yes without a terminal."""

    exit_code = 10


EXIT_CODES: dict[int, str] = {
    0: "success",
    UsageError.exit_code: "bad usage: unknown stage or step, bad option, or a variable value that breaks its pattern",
    DefinitionError.exit_code: "a stage definition or manifest is invalid (lint or kubeconform); nothing was changed",
    CliMissingError.exit_code: "the cluster CLI (oc or kubectl) is not on PATH; nothing was changed",
    ClusterUnreachableError.exit_code: "the cluster does not answer; nothing was changed",
    NotLoggedInError.exit_code: "not logged in, or the token is invalid; nothing was changed",
    MissingApiError.exit_code: "a resource type (CRD) the stages need is missing; nothing was changed",
    StepFailedError.exit_code: "a step failed mid-stage; the report lists what was applied and how to resume",
    VerifyFailedError.exit_code: "verify: at least one check did not match",
    AbortedError.exit_code: "a destructive action was declined, or needs --yes",
}
