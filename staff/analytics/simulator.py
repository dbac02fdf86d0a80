"""/staff/analytics/simulator/: what if the earn rate, a rule, the tiers or the rewards had been different.

The form starts a replay of the last 12 months (``analytics.simulator``) as a background job; the page shows the
latest runs and the chosen one's figures beside what happened. The page itself only reads the stored runs.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from analytics.selectors import (
    rollup_latest,
    simulation_get,
    simulation_movers_named,
    simulation_runs_recent,
    simulation_settings,
)
from analytics.simulator import (
    MAX_COST,
    MAX_POINTS_PER_UNIT,
    NOTHING_CHANGED,
    Changes,
    ladder_problems,
    replay_range,
    rule_effect_changed,
    simulation_request,
)
from earning.definitions import DefinitionError
from loyalty.replica import reads_from_replica

from ..access import staff_view
from .common import CsvTables, chart

RUN_PARAMETER_PROBLEM = "Choose a simulation from the list of runs."
MOVERS_SHOWN = 20
EFFECT_WORDS = {"multiplier": "×{factor}", "fixed_bonus": "+{points} points", "per_unit": "{points} points a unit"}


def _plain(value) -> str:
    return format(Decimal(value).normalize(), "f")


def _shown(value) -> str:
    """A threshold or rate as a person reads it: 2,000 and 1.5."""
    return format(Decimal(value).normalize(), ",f")


def effect_words(effect: dict) -> str:
    template = EFFECT_WORDS.get(effect.get("kind"))
    try:
        return template.format(**effect) if template else effect.get("kind", "")
    except KeyError:
        return effect.get("kind", "")


# --- the form --------------------------------------------------------------------------------------------------


class SimulationForm(forms.Form):
    """One field per thing that can change, each empty by default (leave it as it is)."""

    points_per_unit = forms.DecimalField(
        label="Points per unit", required=False, min_value=0, max_value=MAX_POINTS_PER_UNIT, max_digits=9,
        decimal_places=4, widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}))
    rule = forms.ChoiceField(label="Earning rule", required=False)
    rule_state = forms.ChoiceField(label="Switched on or off", required=False, choices=[
        ("", "As it is"), ("on", "On"), ("off", "Off")])
    rule_value = forms.DecimalField(
        label="New multiplier or points", required=False, max_digits=12, decimal_places=4,
        help_text="A multiplier rule: its factor (3 earns ×3). A bonus or per-unit rule: its points.",
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}))

    def __init__(self, *args, program, settings, **kwargs):
        super().__init__(*args, **kwargs)
        self.program, self.settings = program, settings
        self.rules = {str(rule.pk): rule for rule in settings.rules}
        rate = _plain(program.points_per_unit)
        self.fields["points_per_unit"].help_text = (
            f"Now {rate} point{'' if rate == '1' else 's'} for each 1.00 {program.currency} spent.")
        self.fields["rule"].choices = [("", "No rule changes")] + [
            (pk, f"{rule.name} ({effect_words(rule.effect)}{'' if rule.active else ', off'})")
            for pk, rule in self.rules.items()]
        self.tier_fields = []
        unit = {"spend": program.currency, "credits": "credits"}.get(settings.metric, "points")
        for tier in settings.tiers:
            name = f"tier_{tier.code}"
            self.fields[name] = forms.DecimalField(
                label=f"{tier.name} threshold", required=False, min_value=0, max_digits=14, decimal_places=2,
                help_text=f"Now {_shown(tier.threshold)} {unit}.",
                widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}))
            self.tier_fields.append(name)
        self.reward_fields = []
        for reward in settings.rewards:
            name = f"reward_{reward.pk.hex}"
            self.fields[name] = forms.IntegerField(
                label=f"{reward.name} cost", required=False, min_value=1, max_value=MAX_COST,
                help_text=f"Now {reward.points_cost:,} points.",
                widget=forms.NumberInput(attrs={"inputmode": "numeric"}))
            self.reward_fields.append(name)

    def tier_bound_fields(self):
        return [self[name] for name in self.tier_fields]

    def reward_bound_fields(self):
        return [self[name] for name in self.reward_fields]

    def clean(self):
        data = super().clean()
        described: list[str] = []
        program = self.program

        points_per_unit = data.get("points_per_unit")
        if points_per_unit is not None and points_per_unit == program.points_per_unit:
            points_per_unit = None
        if points_per_unit is not None:
            described.append(f"Earn rate {_plain(program.points_per_unit)} → {_plain(points_per_unit)} points "
                             f"per {program.currency}")

        rule_id, state, value = data.get("rule") or None, data.get("rule_state") or "", data.get("rule_value")
        rule_active = None
        if rule_id is None and (state or value is not None):
            self.add_error("rule", "Choose the rule to change.")
        elif rule_id is not None:
            rule = self.rules[rule_id]
            rule_active = {"on": True, "off": False}.get(state)
            if rule_active == rule.active:
                rule_active = None
            if value is not None:
                try:
                    effect = rule_effect_changed(rule, value)
                except DefinitionError as error:
                    self.add_error("rule_value", " ".join(problem["message"] for problem in error.errors))
                else:
                    described.append(f"{rule.name}: {effect_words(rule.effect)} → {effect_words(effect)}")
            if rule_active is not None:
                described.append(f"{rule.name} switched {'on' if rule_active else 'off'}")
            if value is None and rule_active is None and "rule_value" not in self.errors:
                self.add_error("rule_value", "Give the rule a new value, or switch it on or off.")

        thresholds = {}
        for tier in self.settings.tiers:
            threshold = data.get(f"tier_{tier.code}")
            if threshold is not None and threshold != tier.threshold:
                thresholds[tier.code] = threshold
                described.append(f"{tier.name} threshold {_shown(tier.threshold)} → {_shown(threshold)}")
        for code, problem in ladder_problems(self.settings.tiers, thresholds).items():
            self.add_error(f"tier_{code}", problem)

        costs = {}
        for reward in self.settings.rewards:
            cost = data.get(f"reward_{reward.pk.hex}")
            if cost is not None and cost != reward.points_cost:
                costs[str(reward.pk)] = cost
                described.append(f"{reward.name} costs {cost:,} points (was {reward.points_cost:,})")

        self.changes = Changes(points_per_unit=points_per_unit, rule_id=rule_id if value is not None
                               or rule_active is not None else None, rule_active=rule_active, rule_value=value,
                               thresholds=thresholds, reward_costs=costs)
        self.described = described
        if not self.errors and self.changes.empty:
            raise forms.ValidationError(NOTHING_CHANGED)
        return data


# --- the figures of a run, as the page and the CSV files show them ------------------------------------------


def _month_label(month: str) -> str:
    return date.fromisoformat(f"{month}-01").strftime("%b %Y")


def month_rows(figures: dict) -> list[dict]:
    return [{**row, "label": _month_label(row["month"]), "difference": row["simulated"] - row["actual"]}
            for row in figures.get("months", [])]


def summary_rows(figures: dict) -> list[dict]:
    """The headline figures: as it happened, as simulated, and the difference."""
    liability = figures["liability"]
    rows = [
        ("issued", "Points issued on purchases", figures["issued"]["actual"], figures["issued"]["simulated"]),
        ("reversed", "Points taken back by returns", figures["reversed"]["actual"], figures["reversed"]["simulated"]),
        ("redeemed", "Points spent on rewards", figures["redeemed"]["actual"], figures["redeemed"]["simulated"]),
        ("liability", "Points owed at the end", liability["actual"], liability["simulated"]),
    ]
    return [{"key": key, "label": label, "actual": actual, "simulated": simulated, "difference": simulated - actual}
            for key, label, actual, simulated in rows]


def tier_rows(figures: dict) -> list[dict]:
    return [{**row, "difference": row["simulated"] - row["actual"],
             "threshold_changed": row["threshold"] != row["new_threshold"]} for row in figures.get("tiers", [])]


def _signed_money(value: Decimal) -> str:
    return "0.00" if not value else f"{value:+,.2f}".replace("-", "−")


def _units_value(units: int, metric: str) -> str:
    return _plain(Decimal(units) / 100) if metric == "spend" else str(units)


# --- choosing a run ------------------------------------------------------------------------------------------


def _chosen_run(request, program, runs):
    """The run named by ``?run=`` (404 for none of this program's), else the latest; ``(run, problem)``."""
    asked = request.GET.get("run")
    if asked is None or asked == "":
        return (runs[0] if runs else None), None
    if not asked.isdigit() or len(asked) > 18:
        return (runs[0] if runs else None), RUN_PARAMETER_PROBLEM
    run = simulation_get(program=program, run_id=asked)
    if run is None:
        raise Http404("No such simulation.")
    return run, None


def _run_for_csv(request, program):
    """The run a CSV is of: ``?run=`` or the latest finished one; a refusal in words for a bad value."""
    asked = request.GET.get("run", "")
    if asked:
        if not asked.isdigit() or len(asked) > 18:
            return HttpResponseBadRequest(f"run: {RUN_PARAMETER_PROBLEM}\n", content_type="text/plain; charset=utf-8")
        run = simulation_get(program=program, run_id=asked)
    else:
        run = next((run for run in simulation_runs_recent(program=program, limit=20) if run.status == "done"), None)
        run = run and simulation_get(program=program, run_id=run.pk)
    if run is None or run.status != "done":
        raise Http404("No finished simulation.")
    return run


def _page(request, form, *, status: int = 200):
    program = request.staff.program
    runs = simulation_runs_recent(program=program)
    run, run_problem = _chosen_run(request, program, runs)
    first, last = replay_range(program)
    context = {"page": "simulator", "rollup": rollup_latest(program=program), "form": form, "runs": runs,
               "run": run, "run_problem": run_problem, "first_day": first, "last_day": last,
               "may_export": request.staff.may("export.download")}
    if run is not None and run.status == "done":
        figures = run.figures
        months = month_rows(figures)
        tiers = tier_rows(figures)
        movers = list(simulation_movers_named(run=run, limit=MOVERS_SHOWN))
        names = {row["code"]: row["name"] for row in tiers}
        context.update({
            "figures": figures, "months": months, "summary": summary_rows(figures), "tiers": tiers,
            "moves": figures.get("moves", []), "rewards": figures.get("rewards", []),
            "reward_changed": any(row["new_cost"] is not None for row in figures.get("rewards", [])),
            "moved": sum(move["members"] for move in figures.get("moves", [])),
            "movers": [{"card": card, "name": name, "from": names.get(old, "No tier"), "to": names.get(new, "No tier"),
                        "units": _shown(_units_value(units, figures["metric"])),
                        "simulated": _shown(_units_value(simulated, figures["metric"]))}
                       for _, card, name, old, new, units, simulated in movers],
            "replay_gap": figures["issued"]["replayed"] - figures["issued"]["actual"],
            "sim_effect": figures["issued"]["simulated"] - figures["issued"]["replayed"],
            "liability_value_difference": _signed_money(Decimal(figures["liability"]["simulated_value"])
                                                        - Decimal(figures["liability"]["actual_value"])),
            "months_chart": chart("line", [row["label"] for row in months],
                                  [("What happened", [row["actual"] for row in months]),
                                   ("Simulated", [row["simulated"] for row in months])], y_title="Points issued"),
            "tiers_chart": chart("bar", [row["name"] for row in tiers],
                                 [("Now", [row["actual"] for row in tiers]),
                                  ("Simulated", [row["simulated"] for row in tiers])], y_title="Members"),
        })
    if run_problem:
        status = 400
    return render(request, "staff/analytics/simulator.html", context, status=status)


# --- the views -----------------------------------------------------------------------------------------------


@require_safe
@staff_view("report.view")
@reads_from_replica
def simulator_page(request):
    program = request.staff.program
    return _page(request, SimulationForm(program=program, settings=simulation_settings(program=program)))


@require_POST
@staff_view("report.view")
def simulator_start(request):
    """Start a simulation with the form's changes; a bad value answers the page again (400) and starts nothing."""
    program = request.staff.program
    form = SimulationForm(request.POST, program=program, settings=simulation_settings(program=program))
    if not form.is_valid():
        return _page(request, form, status=400)
    run = simulation_request(program=program, changes=form.changes, user=request.user, described=form.described)
    messages.success(request, "The simulation has started: its figures show below when it has replayed the year.")
    return redirect(f"{reverse('staff:analytics-simulator')}?program={program.slug}&run={run.pk}")


@require_safe
@staff_view("report.view")
def simulator_status(request, run_id: int):
    """How far a run has got (the page polls it with htmx while the run works); when it is over, htmx reloads
    the page to show the figures."""
    run = simulation_get(program=request.staff.program, run_id=run_id)
    if run is None:
        raise Http404("No such simulation.")
    response = render(request, "staff/analytics/_simulation_progress.html", {"run": run})
    if run.status in ("done", "failed") and request.headers.get("HX-Request"):
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
    return response


# --- the CSV files ---------------------------------------------------------------------------------------------


def _months_csv(request, program):
    run = request.simulation
    return ([row["month"], row["actual"], row["replayed"], row["simulated"], row["difference"]]
            for row in month_rows(run.figures))


def _summary_csv(request, program):
    run = request.simulation
    rows = [[row["key"], row["actual"], row["simulated"], row["difference"]] for row in summary_rows(run.figures)]
    liability = run.figures["liability"]
    rows.append(["liability_value", liability["actual_value"], liability["simulated_value"],
                 _plain(Decimal(liability["simulated_value"]) - Decimal(liability["actual_value"]))])
    return rows


def _tiers_csv(request, program):
    return ([row["code"], row["name"], row["threshold"], row["new_threshold"], row["actual"], row["simulated"],
             row["difference"]] for row in tier_rows(request.simulation.figures))


def _moves_csv(request, program):
    return ([move["from"], move["to"], move["members"]] for move in request.simulation.figures.get("moves", []))


def _members_csv(request, program):
    metric = request.simulation.figures["metric"]
    return ([member_id, card, name, old, new, _units_value(units, metric), _units_value(simulated, metric)]
            for member_id, card, name, old, new, units, simulated in simulation_movers_named(run=request.simulation))


def _rewards_csv(request, program):
    return ([row["code"], row["name"], row["redemptions"], row["cost"], row["new_cost"] if row["new_cost"] is not None
             else row["cost"], row["points"], row["simulated_points"]]
            for row in request.simulation.figures.get("rewards", []))


TABLES = CsvTables("simulator", {
    "summary": (["figure", "actual", "simulated", "difference"], _summary_csv),
    "months": (["month", "actual_points", "replayed_points", "simulated_points", "difference"], _months_csv),
    "tiers": (["tier", "name", "threshold", "simulated_threshold", "members", "simulated_members", "difference"],
              _tiers_csv),
    "moves": (["from_tier", "to_tier", "members"], _moves_csv),
    "members": (["member_id", "card_number", "name", "from_tier", "to_tier", "qualifying_value",
                 "simulated_qualifying_value"], _members_csv),
    "rewards": (["code", "reward", "redemptions", "cost", "simulated_cost", "points_spent",
                 "simulated_points_spent"], _rewards_csv),
})


@require_safe
@staff_view("export.download")
@reads_from_replica
def simulator_csv(request, table):
    if table not in TABLES.tables:
        raise Http404("No such table.")
    run = _run_for_csv(request, request.staff.program)
    if isinstance(run, HttpResponse):
        return run
    request.simulation = run
    return TABLES.response(request, table)
