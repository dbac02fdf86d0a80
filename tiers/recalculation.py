"""Set-based tier recalculation for a whole program: a few SQL statements per batch of members.

Per batch (a range of member ids), in one transaction:

1. (PostgreSQL) lock the batch's ``MemberTier`` rows, so an earn that is
   upgrading one of them waits or is waited for;
2. ``INSERT … SELECT``: aggregate the window's qualifying activity per member,
   decide each member's new standing (the SQL twin of ``qualification.decide``)
   and keep only the members whose standing changes, in the work table;
3. ``INSERT … SELECT`` the tier history rows from the work table;
4. ``UPDATE … FROM`` the work table onto ``MemberTier``;
5. announce the batch's tier changes (``tier.changed`` webhooks and the members' emails),
   read back from the history rows of step 3: nothing when the batch changed no tier, two
   queries when nobody listens (the program's endpoints and email settings);
6. delete the batch's work rows.

The program's tiers are few, so they are written into the statements as
``CASE`` expressions (values passed as parameters).

Only placeholders (``_Params.add``) and fixed SQL fragments are formatted into
the statements; every value travels as a query parameter.
"""
# ruff: noqa: S608

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import connection, models

from .models import TierChange, TierPolicy
from .qualification import NO_RANK, Ladder, Window
from .signals import tier_changes_recorded

SYSTEM_ACTOR = "task:tier_recalculate"
UUID_SPACE = 1 << 128

DOWNGRADE_REASON = {
    TierPolicy.Downgrade.END_OF_WINDOW: "Below the tier's threshold when its window ended.",
    TierPolicy.Downgrade.STEPWISE: "Below the tier's threshold for the whole grace period; one tier down.",
}
RAISE_REASON = "Reached the tier's threshold at recalculation."


@dataclass
class RecalculationResult:
    upgrades: int = 0
    downgrades: int = 0
    updated: int = 0
    batches: int = 0


def member_id_ranges(batches: int) -> list[tuple[uuid.UUID | None, uuid.UUID | None]]:
    """``batches`` contiguous ranges covering every UUID: (inclusive low, exclusive high), None = open."""
    bounds = [uuid.UUID(int=(i * UUID_SPACE) // batches) for i in range(1, batches)]
    lows = [None, *bounds]
    highs = [*bounds, None]
    return list(zip(lows, highs, strict=True))


class _Params(dict):
    """Named query parameters; ``add`` returns the placeholder for a new one."""

    def add(self, value) -> str:
        name = f"p{len(self)}"
        self[name] = value
        return f"%({name})s"


class ProgramRecalculation:
    def __init__(self, *, program, policy: TierPolicy, ladder: Ladder, window: Window):
        self.program, self.policy, self.ladder, self.window = program, policy, ladder, window
        self._uuid = models.UUIDField()

    # -- values the database understands ------------------------------------------------------
    def _dt(self, value):
        return connection.ops.adapt_datetimefield_value(value)

    def _id(self, value):
        return self._uuid.get_db_prep_value(value, connection)

    def _null_timestamp(self) -> str:
        # PostgreSQL types a CASE whose branches are all NULL as text.
        return "CAST(NULL AS TIMESTAMP WITH TIME ZONE)"

    def _distinct(self, left: str, right: str) -> str:
        return f"({left} IS DISTINCT FROM {right})"

    # -- the ladder as CASE expressions -----------------------------------------------------
    def _rank_of_tier(self, column: str, p: _Params) -> str:
        whens = " ".join(f"WHEN {p.add(t.pk)} THEN {p.add(t.rank)}" for t in self.ladder.tiers)
        return f"(CASE {column} {whens} ELSE {NO_RANK} END)" if whens else str(NO_RANK)

    def _tier_of_rank(self, column: str, p: _Params) -> str:
        whens = " ".join(f"WHEN {p.add(t.rank)} THEN {p.add(t.pk)}" for t in self.ladder.tiers)
        return f"(CASE {column} {whens} ELSE NULL END)" if whens else "NULL"

    def _earned_rank(self, units: str, p: _Params) -> str:
        whens = []
        for tier in reversed(self.ladder.tiers):
            threshold = self.ladder.threshold_units(tier)
            condition = "1 = 1" if threshold == 0 else f"{units} >= {p.add(threshold)}"
            whens.append(f"WHEN {condition} THEN {p.add(tier.rank)}")
        return f"(CASE {' '.join(whens)} ELSE {NO_RANK} END)" if whens else str(NO_RANK)

    def _rank_below(self, column: str, p: _Params) -> str:
        ranks = [t.rank for t in self.ladder.tiers]
        whens = " ".join(f"WHEN {p.add(r)} THEN {p.add(self.ladder.rank_below(r))}" for r in ranks)
        return f"(CASE {column} {whens} ELSE {NO_RANK} END)" if whens else str(NO_RANK)

    def _metric(self) -> str:
        return {
            TierPolicy.Metric.POINTS: "qa.points",
            TierPolicy.Metric.CREDITS: "qa.credits",
            TierPolicy.Metric.SPEND: "CAST(ROUND(qa.spend * 100) AS BIGINT)",
        }[self.policy.metric]

    def _range(self, column: str, low, high, p: _Params) -> str:
        parts = []
        if low is not None:
            parts.append(f"{column} >= {p.add(self._id(low))}")
        if high is not None:
            parts.append(f"{column} < {p.add(self._id(high))}")
        return " AND ".join(parts) or "1 = 1"

    # -- the statements ---------------------------------------------------------------------
    def qualifying_totals_sql(self, p: _Params, low=None, high=None) -> str:
        """Per member: units in the current window (``cur``) and, for calendar years, the year before (``prev``)."""
        metric, w = self._metric(), self.window
        program = p.add(self._id(self.program.pk))
        rng = self._range("qa.member_id", low, high, p)
        if w.previous_start is None:
            return (f"SELECT qa.member_id, SUM({metric}) AS cur, CAST(NULL AS BIGINT) AS prev "
                    f"FROM tiers_qualifyingactivity qa WHERE qa.program_id = {program} "
                    f"AND qa.occurred_at >= {p.add(self._dt(w.start))} AND {rng} GROUP BY qa.member_id")
        start = p.add(self._dt(w.start))
        return (f"SELECT qa.member_id, SUM(CASE WHEN qa.occurred_at >= {start} THEN {metric} ELSE 0 END) AS cur, "
                f"SUM(CASE WHEN qa.occurred_at < {start} THEN {metric} ELSE 0 END) AS prev "
                f"FROM tiers_qualifyingactivity qa WHERE qa.program_id = {program} "
                f"AND qa.occurred_at >= {p.add(self._dt(w.previous_start))} AND {rng} GROUP BY qa.member_id")

    def decide_sql(self, p: _Params, run_id, low, high) -> str:
        w, downgrade = self.window, self.policy.downgrade
        now, term_end = p.add(self._dt(w.now)), p.add(self._dt(w.term_end))
        scale = self.ladder.scale
        value = "COALESCE(a.cur, 0)" if scale == 1 else f"COALESCE(a.cur, 0) / {scale}.0"
        calendar = w.previous_start is not None

        level_s = (
            "SELECT mt.member_id, mt.tier_id, mt.achieved_at, mt.valid_until, mt.below_since, mt.locked_until, "
            f"mt.qualifying_value AS old_value, {value} AS qv, "
            f"{self._rank_of_tier('mt.tier_id', p)} AS cur_rank, "
            f"{self._earned_rank('COALESCE(a.cur, 0)', p)} AS e_up, "
            f"{self._earned_rank('COALESCE(a.prev, 0)', p) if calendar else NO_RANK} AS e_prev "
            f"FROM tiers_membertier mt LEFT JOIN ({self.qualifying_totals_sql(p, low, high)}) a "
            "ON a.member_id = mt.member_id "
            f"WHERE mt.program_id = {p.add(self._id(self.program.pk))} AND {self._range('mt.member_id', low, high, p)}"
        )
        level_k = (
            "SELECT s.*, CASE WHEN s.e_prev > s.e_up THEN s.e_prev ELSE s.e_up END AS e_keep, "
            f"CASE WHEN s.locked_until IS NOT NULL AND s.locked_until > {now} THEN 1 ELSE 0 END AS locked "
            f"FROM ({level_s}) s"
        )
        if downgrade == TierPolicy.Downgrade.END_OF_WINDOW:
            below_branch = f"WHEN k.valid_until IS NULL OR k.valid_until <= {now} THEN k.e_keep"
        elif downgrade == TierPolicy.Downgrade.STEPWISE:
            cutoff = p.add(self._dt(w.grace_cutoff))
            below_branch = f"WHEN COALESCE(k.below_since, {now}) <= {cutoff} THEN {self._rank_below('k.cur_rank', p)}"
        else:
            below_branch = ""
        level_d = (
            "SELECT k.*, CASE WHEN k.locked = 1 THEN k.cur_rank WHEN k.e_up > k.cur_rank THEN k.e_up "
            f"WHEN k.e_keep >= k.cur_rank THEN k.cur_rank {below_branch} ELSE k.cur_rank END AS new_rank "
            f"FROM ({level_k}) k"
        )

        renew = ""
        if downgrade == TierPolicy.Downgrade.END_OF_WINDOW:
            renew = (f"WHEN d.e_up >= d.cur_rank AND (d.valid_until IS NULL OR d.valid_until < {term_end}) "
                     f"THEN {term_end} ")
        if downgrade == TierPolicy.Downgrade.STEPWISE:
            below_changed = f"CASE WHEN d.new_rank > d.e_keep THEN {now} ELSE {self._null_timestamp()} END"
            below_kept = f"WHEN d.e_keep < d.cur_rank THEN COALESCE(d.below_since, {now}) "
        else:
            below_changed, below_kept = self._null_timestamp(), ""
        level_f = (
            "SELECT d.member_id, d.tier_id AS old_tier_id, d.old_value, d.qv, d.valid_until AS old_valid_until, "
            "d.below_since AS old_below_since, d.cur_rank, d.new_rank, "
            f"{self._tier_of_rank('d.new_rank', p)} AS new_tier_id, "
            f"CASE WHEN d.new_rank <> d.cur_rank THEN {now} ELSE d.achieved_at END AS new_achieved_at, "
            f"CASE WHEN d.locked = 1 THEN d.valid_until WHEN d.new_rank <> d.cur_rank THEN {term_end} "
            f"{renew}ELSE d.valid_until END AS new_valid_until, "
            f"CASE WHEN d.locked = 1 THEN {self._null_timestamp()} WHEN d.new_rank <> d.cur_rank THEN {below_changed} "
            f"{below_kept}ELSE {self._null_timestamp()} END AS new_below_since "
            f"FROM ({level_d}) d"
        )
        changed = " OR ".join([
            "f.new_rank <> f.cur_rank",
            self._distinct("f.old_value", "f.qv"),
            self._distinct("f.old_valid_until", "f.new_valid_until"),
            self._distinct("f.old_below_since", "f.new_below_since"),
        ])
        return (
            "INSERT INTO tiers_recalculation_row (run_id, member_id, old_tier_id, new_tier_id, qualifying_value, "
            "achieved_at, valid_until, below_since, cause) "
            f"SELECT {p.add(self._id(run_id))}, f.member_id, f.old_tier_id, f.new_tier_id, f.qv, f.new_achieved_at, "
            "f.new_valid_until, f.new_below_since, "
            "CASE WHEN f.new_rank > f.cur_rank THEN 'recalc' WHEN f.new_rank < f.cur_rank THEN 'downgrade' END "
            f"FROM ({level_f}) f WHERE {changed}"
        )

    def changes_publish(self, low, high, after_id: int) -> None:
        """Announce the tier changes this batch wrote, in its transaction.

        The batch's history rows are found by what they are — this run's actor and moment, the batch's
        members, ids above the highest id before the batch wrote — with no join to the work table,
        whose statistics lag behind its churn (the planner took it for empty and rescanned it for each
        history row: minutes per batch).
        """
        changes = TierChange.objects.filter(program_id=self.program.pk, actor=SYSTEM_ACTOR,
                                            created_at=self.window.now, pk__gt=after_id)
        if low is not None:
            changes = changes.filter(member_id__gte=low)
        if high is not None:
            changes = changes.filter(member_id__lt=high)
        tier_changes_recorded.send(sender=TierChange, program=self.program, changes=changes.order_by("pk"))

    def run_batch(self, run_id, low, high, result: RecalculationResult) -> None:
        with connection.cursor() as cursor:
            p = _Params()
            cursor.execute(
                "SELECT COUNT(*) FROM (SELECT 1 FROM tiers_membertier mt "
                f"WHERE mt.program_id = {p.add(self._id(self.program.pk))} "
                f"AND {self._range('mt.member_id', low, high, p)} FOR UPDATE) locked", p)

            p = _Params()
            cursor.execute(self.decide_sql(p, run_id, low, high), p)

            # Ids come from a sequence: the rows this batch writes get ids above every row visible now.
            cursor.execute("SELECT COALESCE(MAX(id), 0) FROM tiers_tierchange")
            (after_id,) = cursor.fetchone()
            p = _Params()
            run = p.add(self._id(run_id))
            reason = DOWNGRADE_REASON.get(self.policy.downgrade, "")
            cursor.execute(
                "INSERT INTO tiers_tierchange (program_id, member_id, from_tier_id, to_tier_id, cause, reason, actor, "
                f"qualifying_value, created_at) SELECT {p.add(self._id(self.program.pk))}, r.member_id, r.old_tier_id, "
                f"r.new_tier_id, r.cause, CASE WHEN r.cause = 'downgrade' THEN {p.add(reason)} "
                f"ELSE {p.add(RAISE_REASON)} END, {p.add(SYSTEM_ACTOR)}, r.qualifying_value, "
                f"{p.add(self._dt(self.window.now))} "
                f"FROM tiers_recalculation_row r WHERE r.run_id = {run} AND r.cause IS NOT NULL", p)

            p = _Params()
            run = p.add(self._id(run_id))
            cursor.execute(
                "UPDATE tiers_membertier SET tier_id = r.new_tier_id, qualifying_value = r.qualifying_value, "
                "achieved_at = r.achieved_at, valid_until = r.valid_until, below_since = r.below_since, "
                f"updated_at = {p.add(self._dt(self.window.now))} "
                f"FROM tiers_recalculation_row r WHERE r.run_id = {run} "
                "AND r.member_id = tiers_membertier.member_id", p)
            result.updated += cursor.rowcount

            p = _Params()
            run = p.add(self._id(run_id))
            cursor.execute(f"SELECT r.cause, COUNT(*) FROM tiers_recalculation_row r WHERE r.run_id = {run} "
                           "AND r.cause IS NOT NULL GROUP BY r.cause", p)
            changed = 0
            for cause, count in cursor.fetchall():
                changed += count
                if cause == "downgrade":
                    result.downgrades += count
                else:
                    result.upgrades += count
            if changed:
                self.changes_publish(low, high, after_id)
            cursor.execute(f"DELETE FROM tiers_recalculation_row WHERE run_id = {run}", p)
        result.batches += 1
