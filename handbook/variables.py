"""The ${VAR} catalogue (manifests/variables.yaml) and how values are chosen.

A value comes from, in order: an override (``--set``/``--user``), discovery on a
cluster, a derivation from other variables, or the default. Every value,
derived ones too, is checked against its pattern before anything runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from . import lab_schema, yaml_load
from .errors import DefinitionError, VariableError
from .paths import relative
from .platforms import DEFAULT_PLATFORM

REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class NamedPattern:
    regex: str
    max_length: int
    help: str


NAMED_PATTERNS: dict[str, NamedPattern] = {
    "dns-label": NamedPattern(
        r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        63,
        "an RFC 1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit, "
        "at most 63 characters",
    ),
    "dns-subdomain": NamedPattern(
        r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
        253,
        "an RFC 1123 subdomain: dot-separated labels of lower-case letters, digits and '-', at most 253 characters",
    ),
}


def references(text: str) -> list[str]:
    """The variable names that ``text`` refers to as ${NAME}, in order of appearance."""
    return REFERENCE.findall(text)


def substitute(text: str, values: Mapping[str, str]) -> str:
    """Replace every ${NAME} in ``text``; an unknown name is an error, never left as is."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise VariableError(f"${{{name}}} has no value: it is not declared in manifests/variables.yaml")
        return values[name]

    return REFERENCE.sub(replace, text)


@dataclass(frozen=True)
class Variable:
    name: str
    description: str
    pattern: str
    pattern_help: str
    max_length: int | None
    pattern_name: str = ""  # dns-label or dns-subdomain for named patterns, "" for a regex of its own
    default: str | None = None
    derive: str | None = None
    discover: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # platform -> (default, derive) that replace the variable's own on that platform
    on_platform: Mapping[str, tuple[str | None, str | None]] = field(default_factory=dict)

    def for_platform(self, platform: str) -> Variable:
        """The variable as it is on ``platform``: its own default or derivation, unless the platform has one."""
        if platform not in self.on_platform:
            return self
        default, derive = self.on_platform[platform]
        return replace(self, default=default, derive=derive, on_platform={})

    def problem(self, value: str) -> str | None:
        """Why ``value`` is not acceptable for this variable, or None when it is."""
        if self.max_length is not None and len(value) > self.max_length:
            return f"{self.name}={value!r} is longer than {self.max_length} characters ({self.pattern_help})"
        if not re.fullmatch(self.pattern, value):
            return f"{self.name}={value!r} does not match {self.pattern} ({self.pattern_help})"
        return None

    def depends_on(self) -> list[str]:
        names = references(self.derive) if self.derive else []
        for argv in self.discover.values():
            for word in argv:
                names.extend(references(word))
        return names


@dataclass(frozen=True)
class Values(Mapping[str, str]):
    """Resolved values, with where each one came from (set, discovered, derived, default)."""

    by_name: Mapping[str, str]
    origins: Mapping[str, str]

    def __getitem__(self, key: str) -> str:
        return self.by_name[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.by_name)

    def __len__(self) -> int:
        return len(self.by_name)

    def origin(self, name: str) -> str:
        return self.origins[name]


@dataclass(frozen=True)
class VariableCatalog:
    variables: Mapping[str, Variable]
    source: str

    @classmethod
    def load(cls, path: Path) -> VariableCatalog:
        where = relative(path)
        try:
            raw = yaml_load.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise DefinitionError([f"{where}: cannot read: {exc}"]) from exc
        problems = lab_schema.problems("variables", where, raw)
        if problems:
            raise DefinitionError(problems)
        variables: dict[str, Variable] = {}
        for name, spec in raw["variables"].items():
            named = NAMED_PATTERNS.get(spec["pattern"])
            variables[name] = Variable(
                name=name,
                description=spec["description"],
                pattern=named.regex if named else spec["pattern"],
                pattern_help=str(spec.get("pattern_help") or (named.help if named else spec["pattern"])),
                max_length=named.max_length if named else spec.get("max_length"),
                pattern_name=spec["pattern"] if named else "",
                default=None if spec.get("default") is None else str(spec["default"]),
                derive=spec.get("derive"),
                discover={platform: tuple(str(w) for w in argv)
                          for platform, argv in (spec.get("discover") or {}).items()},
                on_platform={platform: (None if rule.get("default") is None else str(rule["default"]),
                                        rule.get("derive"))
                             for platform, rule in (spec.get("platforms") or {}).items()},
            )
        catalog = cls(variables=variables, source=where)
        platforms = sorted({p for v in variables.values() for p in v.on_platform})
        for platform in [None, *platforms]:  # the variables as they are, then as each platform changes them
            at = "" if platform is None else f".platforms.{platform}"
            view = catalog if platform is None else catalog.for_platform(platform)
            for variable in view.variables.values():
                for dependency in variable.depends_on():
                    if dependency not in variables:
                        problems.append(
                            f"{where}: variables.{variable.name}{at} refers to undeclared ${{{dependency}}}"
                        )
            if not problems:
                try:
                    view.closure(variables)
                except DefinitionError as exc:
                    problems.extend(exc.problems)
            for variable in view.variables.values():
                if variable.default is not None and (why := variable.problem(variable.default)):
                    problems.append(f"{where}: variables.{variable.name}{at}.default: {why}")
        if problems:
            raise DefinitionError(list(dict.fromkeys(problems)))
        return catalog

    def for_platform(self, platform: str) -> VariableCatalog:
        """The catalogue as it is on ``platform`` (each variable's per-platform default or derivation)."""
        if not any(platform in v.on_platform for v in self.variables.values()):
            return self
        return VariableCatalog({n: v.for_platform(platform) for n, v in self.variables.items()}, self.source)

    def __contains__(self, name: object) -> bool:
        return name in self.variables

    def closure(self, names: Iterable[str]) -> list[str]:
        """``names`` plus everything they derive from, dependencies first, in catalogue order otherwise."""
        order = list(self.variables)
        wanted: set[str] = set()
        stack = [n for n in names]
        while stack:
            name = stack.pop()
            if name in wanted:
                continue
            if name not in self.variables:
                raise VariableError(f"${{{name}}} is not declared in {self.source}")
            wanted.add(name)
            stack.extend(self.variables[name].depends_on())
        result: list[str] = []
        visiting: set[str] = set()

        def visit(name: str) -> None:
            if name in result:
                return
            if name in visiting:
                raise DefinitionError([f"{self.source}: variables.{name} derives from itself"])
            visiting.add(name)
            for dependency in self.variables[name].depends_on():
                visit(dependency)
            visiting.discard(name)
            result.append(name)

        for name in sorted(wanted, key=order.index):
            visit(name)
        return result

    def parse_overrides(self, assignments: Iterable[str]) -> dict[str, str]:
        """Turn ``NAME=VALUE`` strings from --set into a dict, refusing unknown names."""
        overrides: dict[str, str] = {}
        for assignment in assignments:
            name, sep, value = assignment.partition("=")
            if not sep:
                raise VariableError(f"--set {assignment!r}: expected NAME=VALUE, e.g. --set LAB_USER=user2")
            if name not in self.variables:
                known = ", ".join(self.variables)
                raise VariableError(f"--set {name}: unknown variable; declared variables are {known}")
            overrides[name] = value
        return overrides

    def resolve(
        self,
        overrides: Mapping[str, str] | None = None,
        discovered: Mapping[str, str] | None = None,
        platform: str = DEFAULT_PLATFORM,
    ) -> Values:
        """Every variable's value on ``platform``, each checked against its pattern.

        Raises VariableError naming the variable, the value, the pattern it broke and where it came from.
        """
        if (there := self.for_platform(platform)) is not self:
            return there.resolve(overrides, discovered, platform)
        overrides = dict(overrides or {})
        discovered = dict(discovered or {})
        values: dict[str, str] = {}
        origins: dict[str, str] = {}
        problems: list[str] = []
        for name in self.closure(self.variables):
            variable = self.variables[name]
            if name in overrides:
                value, origin = overrides[name], "set"
            elif name in discovered:
                value, origin = discovered[name], "discovered"
            elif variable.derive is not None:
                value, origin = substitute(variable.derive, values), "derived"
            else:
                value, origin = str(variable.default), "default"
            why = variable.problem(value)
            if why:
                source = {
                    "set": "given with --set/--user",
                    "discovered": "read from the cluster",
                    "derived": f"derived as {variable.derive}",
                    "default": "the default",
                }[origin]
                problems.append(f"{why}; the value was {source}")
            values[name] = value
            origins[name] = origin
        if problems:
            raise VariableError("bad variable value:\n" + "\n".join(f"  - {p}" for p in problems))
        return Values(by_name=values, origins=origins)
