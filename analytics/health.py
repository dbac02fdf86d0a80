"""Members at risk, explained: each member's usual gap between purchases, whether they are lagging behind it, and
a health score from 0 to 100 made of parts staff can read.

**The usual gap.** Once a member has four purchases or more, the 90th percentile of their own gaps between
purchases (the smallest gap that at least 90 % of their gaps do not exceed). Before that, the program's: the 90th
percentile, over the members who did come back, of the days from joining to the first purchase (no purchase yet),
from the first purchase to the second (one), and so on. At least one day; 30 days while the program has no
member to measure it on. A member *lags* when the days since their last purchase exceed their usual gap.

**The score** is the sum of five parts (points out of their weight):

- recency (40): all 40 while the days since the last purchase (or since joining, before any) are within the usual
  gap, then falling in a straight line to 0 at three usual gaps;
- frequency (20): purchases against the program's 80th percentile of purchases (that many or more: 20);
- money (20): net spend ever (returns taken off) against the program's 80th percentile of it;
- engagement (10): 3 points a redemption and 2 an answer to any survey, up to two of each;
- NPS (10): the latest NPS answer: 9–10 gives 10, 7–8 gives 6, 0–6 gives 0; none yet, 5.

**Bands**: healthy (70 or more), watch (50–69), at risk (30–49), lost (under 30, or no purchase for more than three
usual gaps).

**What is stored, and why it stays fast.** Only recency moves with the calendar, and it only falls. So the rollup
stores, per member, the four parts that do not move (as of the last rollup that touched the member) and the first
day of each band; a member's band on any day is then a date comparison, "who lags today" and "who is at risk
today" are range reads on indexed dates, and the recency part is worked out only for the rows a page shows. The
rollup re-reads only the members the rolled-up days touched (a purchase, claim or return, a redemption, a survey
answer, joining), in batches, set-based; the program's yardsticks (usual gaps for 0–3 purchases, the 80th
percentiles) are refreshed at every run and reach a member's parts the next time the member is touched, or at a
rebuild, which re-reads everyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import connection, connections, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from earning.selectors import member_purchase_stats, purchase_members_between
from members.selectors import member_contacts, member_enrolment_days, members_enrolled_between
from rewards.selectors import member_redemption_stats, redemption_members_between
from surveys.selectors import answer_members_between, member_answer_stats

from .models import HealthDay, HealthNorms, MemberHealth

WEIGHTS = {"recency": 40, "frequency": 20, "money": 20, "engagement": 10, "nps": 10}
PART_NAMES = {"recency": "Recency", "frequency": "Frequency", "money": "Money", "engagement": "Engagement",
              "nps": "NPS"}
HEALTHY, WATCH, AT_RISK = 70, 50, 30  # the lowest score of each band; under AT_RISK is lost
LOST_AFTER_GAPS = 3  # recency reaches 0 at three usual gaps, and a member gone longer is lost whatever the score
NEVER_RETURNED_DAYS = 60
DEFAULT_GAP = 30
BATCH = 5000
WALK_ALL_DAYS = 62  # a longer range re-reads every member: most of them were touched anyway

# (slug, name, what it takes), best first: the page writes these thresholds beside the counts
BANDS = [
    ("healthy", "Healthy", f"a score of {HEALTHY} or more"),
    ("watch", "Watch", f"{WATCH} to {HEALTHY - 1}"),
    ("at-risk", "At risk", f"{AT_RISK} to {WATCH - 1}"),
    ("lost", "Lost", f"under {AT_RISK}, or no purchase for more than {LOST_AFTER_GAPS} times their usual gap"),
]
BAND_NAMES = {slug: name for slug, name, _ in BANDS}


def health_today(program) -> date:
    """The program's local date now: the day bands and recency are read for."""
    return timezone.now().astimezone(program.zone).date()


# --- the rollup ----------------------------------------------------------------------------------


@transaction.atomic
def health_rollup(*, program, first: date, last: date, zone) -> int:
    """Re-read the members the local days ``first`` to ``last`` touched (every member, for a long range or a
    program not rolled up before), refresh the program's yardsticks, and score those members again. Answers the
    rows written. Running it again writes the same rows."""
    start_at = datetime.combine(first, time.min, tzinfo=zone)
    end_at = datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone)
    walk_all = (last - first).days >= WALK_ALL_DAYS or not MemberHealth.objects.filter(program=program).exists()
    rows = 0
    if walk_all:
        after = None
        while batch := member_enrolment_days(program_id=program.pk, zone=zone, after=after, limit=BATCH):
            # every member of the program between two ids: the owning apps read them as a range of their index
            rows += _write_facts(program=program, members=batch, zone=zone, id_range=(after, batch[-1][0]))
            after = batch[-1][0]
        touched = None
    else:
        touched = sorted(
            purchase_members_between(program_id=program.pk, start_at=start_at, end_at=end_at)
            | redemption_members_between(program_id=program.pk, start_at=start_at, end_at=end_at)
            | answer_members_between(program_id=program.pk, start_at=start_at, end_at=end_at)
            | members_enrolled_between(program_id=program.pk, start_at=start_at, end_at=end_at))
        _count_days(program=program, member_ids=touched, sign=-1)  # their band days as they were
        for offset in range(0, len(touched), BATCH):
            batch = member_enrolment_days(program_id=program.pk, zone=zone, member_ids=touched[offset:offset + BATCH])
            rows += _write_facts(program=program, members=batch, zone=zone)
    norms = _refresh_norms(program=program)
    _score(program=program, norms=norms, member_ids=touched)
    if touched is None:
        HealthDay.objects.filter(program=program).delete()
    days = _count_days(program=program, member_ids=touched, sign=1)
    norms.distribution_on, norms.distribution = last, _distribution(program=program, day=last, using="default")
    norms.save(update_fields=["distribution_on", "distribution"])
    return rows + days + 1


def _write_facts(*, program, members: list[tuple], zone, id_range: tuple | None = None) -> int:
    """What ``members`` (``[(id, joined on)]``; with ``id_range``, all the program's members in that range of ids)
    did, read from the owning apps and upserted; their scores follow in ``_score``."""
    ask = {"id_range": id_range} if id_range else {"member_ids": [member_id for member_id, _ in members]}
    purchases = {row[0]: row[1:] for row in member_purchase_stats(program_id=program.pk, zone=zone, **ask)}
    redemptions = {row[0]: row[1:] for row in member_redemption_stats(program_id=program.pk, zone=zone, **ask)}
    answers = {row[0]: row[1:] for row in member_answer_stats(program_id=program.pk, **ask)}
    rows = []
    for member_id, enrolled_on in members:
        count, first_on, last_on, gap_1, gap_2, gap_3, own_gap, spend = purchases.get(
            member_id, (0, None, None, None, None, None, None, Decimal(0)))
        redeemed, last_redemption_on = redemptions.get(member_id, (0, None))
        answered, last_nps = answers.get(member_id, (0, None))
        # a receipt claimed after joining may predate it: such a member came at once
        gap_0 = max(0, (first_on - enrolled_on).days) if first_on else None
        rows.append((member_id, enrolled_on, count, first_on, last_on, gap_0, gap_1, gap_2, gap_3, own_gap, spend,
                     redeemed, last_redemption_on, answered, last_nps, last_on or enrolled_on))
    _upsert(program=program, rows=rows)
    return len(rows)


FACT_COLUMNS = ["member_id", "enrolled_on", "purchases", "first_purchase_on", "last_purchase_on", "gap_after_0",
                "gap_after_1", "gap_after_2", "gap_after_3", "own_gap", "spend", "redemptions", "last_redemption_on",
                "answers", "last_nps", "anchor_on"]


def _upsert(*, program, rows: list[tuple]) -> None:
    """Copy the rows into a scratch table and merge them in one statement: a new member's scored columns start at
    their anchor (``_score`` sets them), a known member's keep theirs until then. COPY, because building an INSERT
    of thousands of rows costs more than running it."""
    table, columns = MemberHealth._meta.db_table, ", ".join(FACT_COLUMNS)
    updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in FACT_COLUMNS[1:-1])
    with connection.cursor() as cursor:
        cursor.execute("""CREATE TEMP TABLE IF NOT EXISTS health_facts (
            member_id uuid, enrolled_on date, purchases integer, first_purchase_on date, last_purchase_on date,
            gap_after_0 integer, gap_after_1 integer, gap_after_2 integer, gap_after_3 integer, own_gap integer,
            spend numeric, redemptions integer, last_redemption_on date, answers integer, last_nps smallint,
            anchor_on date) ON COMMIT DROP""")
        cursor.execute("TRUNCATE health_facts")
        with cursor.copy(f"COPY health_facts ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"""INSERT INTO {table} ({columns}, program_id, usual_gap, frequency_points, money_points,
                                     engagement_points, nps_points, lagging_from, watch_from, at_risk_from, lost_from)
                SELECT {columns}, %s, 1, 0, 0, 0, 0, anchor_on, anchor_on, anchor_on, anchor_on FROM health_facts
                ON CONFLICT (member_id) DO UPDATE SET {updates}""",  # noqa: S608 - names from the code
            [program.pk])


def _refresh_norms(*, program) -> HealthNorms:
    """The program's usual gaps for 0–3 purchases and its 80th percentiles, from every member's row."""
    table = MemberHealth._meta.db_table
    gaps = ", ".join(f"percentile_disc(0.9) WITHIN GROUP (ORDER BY gap_after_{n}), count(gap_after_{n})"
                     for n in range(4))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT {gaps},
                       percentile_disc(0.8) WITHIN GROUP (ORDER BY purchases) FILTER (WHERE purchases > 0),
                       percentile_disc(0.8) WITHIN GROUP (ORDER BY spend) FILTER (WHERE spend > 0),
                       count(*)
                  FROM {table} WHERE program_id = %s""",  # noqa: S608 - names from the code, values bound
            [program.pk])
        found = cursor.fetchone()
    values = {}
    for n in range(4):
        gap, measured = found[2 * n], found[2 * n + 1]
        values[f"gap_{n}"] = DEFAULT_GAP if gap is None else max(1, gap)
        values[f"measured_{n}"] = measured
    values["purchases_scale"] = max(1, found[8] or 1)
    values["spend_scale"] = max(Decimal("0.01"), found[9] or Decimal(1))
    values["members"] = found[10]
    norms, _ = HealthNorms.objects.update_or_create(program=program, defaults=values)
    return norms


# The first day a member's score is under ``threshold``: the four parts that do not move leave ``need`` points for
# recency to find; recency stays at 40 for the usual gap g, then is floor(40 × (3g − d) / 2g) on day d, which is
# under ``need`` from d = floor(g × (60 − need) / 20) + 1 on. Integer arithmetic, as ``recency_points`` does it.
_BELOW = """CASE WHEN {t} - still > 40 THEN anchor
                 WHEN {t} - still <= 0 THEN NULL
                 ELSE anchor + (gap * (60 - ({t} - still))) / 20 + 1 END"""


def _score(*, program, norms: HealthNorms, member_ids: list | None) -> None:
    """Score the program's members (those in ``member_ids``, or all): one UPDATE on analytics' own table."""
    table = MemberHealth._meta.db_table
    only = "AND member_id = ANY(%(members)s)" if member_ids is not None else ""
    sql = f"""
        WITH parts AS (
            SELECT member_id,
                   greatest(1, coalesce(own_gap, CASE least(purchases, 3) WHEN 0 THEN %(g0)s WHEN 1 THEN %(g1)s
                                                                          WHEN 2 THEN %(g2)s ELSE %(g3)s END)) AS gap,
                   coalesce(last_purchase_on, enrolled_on) AS anchor,
                   least(20, (20 * purchases) / %(purchases_scale)s) AS frequency,
                   CASE WHEN spend <= 0 THEN 0
                        ELSE least(20, floor(20 * spend / %(spend_scale)s))::int END AS money,
                   least(redemptions, 2) * 3 + least(answers, 2) * 2 AS engagement,
                   CASE WHEN last_nps IS NULL THEN 5 WHEN last_nps >= 9 THEN 10 WHEN last_nps >= 7 THEN 6
                        ELSE 0 END AS nps
              FROM {table} WHERE program_id = %(program)s {only}
        ), still AS (
            SELECT *, frequency + money + engagement + nps AS still FROM parts
        ), lost AS (
            SELECT *, least({_BELOW.format(t=AT_RISK)}, anchor + {LOST_AFTER_GAPS} * gap + 1) AS lost FROM still
        ), at_risk AS (
            SELECT *, least({_BELOW.format(t=WATCH)}, lost) AS at_risk FROM lost
        ), watch AS (
            SELECT *, least({_BELOW.format(t=HEALTHY)}, at_risk) AS watch FROM at_risk
        )
        UPDATE {table} AS h
           SET usual_gap = s.gap, anchor_on = s.anchor, frequency_points = s.frequency, money_points = s.money,
               engagement_points = s.engagement, nps_points = s.nps, lagging_from = s.anchor + s.gap + 1,
               watch_from = s.watch, at_risk_from = s.at_risk, lost_from = s.lost
          FROM watch AS s WHERE h.member_id = s.member_id"""  # noqa: S608 - names and numbers from the code
    params = {"program": program.pk, "members": member_ids, "purchases_scale": norms.purchases_scale,
              "spend_scale": norms.spend_scale, **{f"g{n}": norms.gap_for(n) for n in range(4)}}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


# Each member's days of entering the watch, at-risk and lost bands, starting to lag (two purchases or more) and
# joining the never-returned list (one purchase or none), counted by day.
_ENTERED_BY_DAY = """
    SELECT e.day, sum(e.watch) AS watch, sum(e.at_risk) AS at_risk, sum(e.lost) AS lost, sum(e.lagging) AS lagging,
           sum(e.never) AS never
      FROM {table} m
     CROSS JOIN LATERAL (VALUES
           (m.watch_from, 1, 0, 0, 0, 0), (m.at_risk_from, 0, 1, 0, 0, 0), (m.lost_from, 0, 0, 1, 0, 0),
           (CASE WHEN m.purchases >= 2 THEN m.lagging_from END, 0, 0, 0, 1, 0),
           (CASE WHEN m.purchases <= 1 THEN m.enrolled_on + %(never)s END, 0, 0, 0, 0, 1)
           ) AS e (day, watch, at_risk, lost, lagging, never)
     WHERE m.program_id = %(program)s AND e.day IS NOT NULL {only}
     GROUP BY e.day"""


def _count_days(*, program, member_ids: list | None, sign: int) -> int:
    """Add (``sign`` 1) or take away (-1) the members' days (``_ENTERED_BY_DAY``) to or from the program's
    ``HealthDay`` rows: every member (``member_ids`` None) or those given. Days left with nothing go."""
    days = HealthDay._meta.db_table
    entered = _ENTERED_BY_DAY.format(table=MemberHealth._meta.db_table,
                                     only="AND m.member_id = ANY(%(members)s)" if member_ids is not None else "")
    params = {"program": program.pk, "never": NEVER_RETURNED_DAYS + 1, "members": member_ids}
    with connection.cursor() as cursor:
        if sign > 0:
            cursor.execute(
                f"""INSERT INTO {days} AS d (program_id, day, watch, at_risk, lost, lagging, never_returned)
                    SELECT %(program)s, day, watch, at_risk, lost, lagging, never FROM ({entered}) x
                    ON CONFLICT (program_id, day) DO UPDATE
                       SET watch = d.watch + EXCLUDED.watch, at_risk = d.at_risk + EXCLUDED.at_risk,
                           lost = d.lost + EXCLUDED.lost, lagging = d.lagging + EXCLUDED.lagging,
                           never_returned = d.never_returned + EXCLUDED.never_returned""",  # noqa: S608
                params)
            return cursor.rowcount
        cursor.execute(
            f"""UPDATE {days} AS d
                   SET watch = d.watch - x.watch, at_risk = d.at_risk - x.at_risk, lost = d.lost - x.lost,
                       lagging = d.lagging - x.lagging, never_returned = d.never_returned - x.never
                  FROM ({entered}) x WHERE d.program_id = %(program)s AND d.day = x.day""",  # noqa: S608
            params)
        cursor.execute(
            f"DELETE FROM {days} WHERE program_id = %s AND watch = 0 AND at_risk = 0 AND lost = 0 "  # noqa: S608
            "AND lagging = 0 AND never_returned = 0", [program.pk])
        return 0


def _distribution(*, program, day: date, using: str) -> list[int]:
    """Members by score on ``day`` in ten bins (0–9, 10–19, …, 90–100): recency as ``recency_points`` counts it,
    over every row in one grouped read."""
    table = MemberHealth._meta.db_table
    sql = f"""
        WITH d AS (
            SELECT %(day)s::date - anchor_on AS since, usual_gap AS gap,
                   frequency_points + money_points + engagement_points + nps_points AS still
              FROM {table} WHERE program_id = %(program)s
        )
        SELECT least(9, (still + CASE WHEN since <= gap THEN 40 WHEN since >= 3 * gap THEN 0
                                      ELSE (40 * (3 * gap - since)) / (2 * gap) END) / 10) AS bin, count(*)
          FROM d GROUP BY bin"""  # noqa: S608 - the model's own table name
    with connections[using].cursor() as cursor:
        cursor.execute(sql, {"day": day, "program": program.pk})
        found = dict(cursor.fetchall())
    return [found.get(n, 0) for n in range(10)]


# --- reading a member's health -------------------------------------------------------------------


def recency_points(days_since: int, usual_gap: int) -> int:
    """40 within the usual gap, then down in a straight line to 0 at three usual gaps (whole points, rounded
    down)."""
    if days_since <= usual_gap:
        return WEIGHTS["recency"]
    if days_since >= LOST_AFTER_GAPS * usual_gap:
        return 0
    return (WEIGHTS["recency"] * (3 * usual_gap - days_since)) // (2 * usual_gap)


def band_on(row: MemberHealth, day: date) -> str:
    if day >= row.lost_from:
        return "lost"
    if day >= row.at_risk_from:
        return "at-risk"
    if day >= row.watch_from:
        return "watch"
    return "healthy"


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class Health:
    """One member's health on ``day``: the parts (points out of their weight), the total, the band, and why."""

    row: MemberHealth
    day: date
    contact: dict

    @property
    def member_id(self):
        return self.row.member_id

    @property
    def days_since(self) -> int:
        return (self.day - self.row.anchor_on).days

    @property
    def parts(self) -> dict[str, int]:
        r = self.row
        return {"recency": recency_points(self.days_since, r.usual_gap), "frequency": r.frequency_points,
                "money": r.money_points, "engagement": r.engagement_points, "nps": r.nps_points}

    @property
    def part_list(self) -> list[dict]:
        return [{"name": PART_NAMES[name], "slug": name, "points": points, "of": WEIGHTS[name]}
                for name, points in self.parts.items()]

    @property
    def score(self) -> int:
        return sum(self.parts.values())

    @property
    def band(self) -> str:
        return band_on(self.row, self.day)

    @property
    def band_name(self) -> str:
        return BAND_NAMES[self.band]

    @property
    def own_gap(self) -> bool:
        return self.row.own_gap is not None

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.contact.get("first_name"), self.contact.get("last_name")) if part)

    @property
    def explanation(self) -> str:
        """In a sentence, e.g. "usually every 12 days; 31 days since; no redemption this year"."""
        r, said = self.row, []
        if r.purchases == 0:
            said.append(f"no purchase yet; joined {_plural(self.days_since, 'day')} ago")
            said.append(f"members usually buy within {_plural(r.usual_gap, 'day')} of joining")
        else:
            whose = "" if self.own_gap else f" (usual for members with {_plural(r.purchases, 'purchase')})"
            said.append(f"usually every {_plural(r.usual_gap, 'day')}{whose}")
            said.append(f"{_plural(self.days_since, 'day')} since their last purchase")
        if r.last_redemption_on is None:
            said.append("never redeemed")
        elif r.last_redemption_on.year < self.day.year:
            said.append("no redemption this year")
        else:
            said.append(f"last redeemed {r.last_redemption_on:%-d %b}")
        if r.last_nps is not None:
            said.append(f"last NPS answer {r.last_nps}")
        return "; ".join(said)


def _healths(program, rows, day: date) -> list[Health]:
    rows = list(rows)
    contacts = member_contacts(program_id=program.pk, member_ids=[r.member_id for r in rows])
    return [Health(row=r, day=day, contact=contacts.get(r.member_id, {})) for r in rows]


def member_health_get(*, program, member_id, day: date | None = None) -> Health | None:
    """One member's health (None before the rollup has reached them)."""
    row = MemberHealth.objects.filter(program=program, member_id=member_id).first()
    return None if row is None else Health(row=row, day=day or health_today(program), contact={})


def band_filter(band: str, day: date) -> Q:
    """The members in ``band`` on ``day``, as a filter on the dates each band starts."""
    return {"healthy": Q(watch_from__gt=day),
            "watch": Q(watch_from__lte=day, at_risk_from__gt=day),
            "at-risk": Q(at_risk_from__lte=day, lost_from__gt=day),
            "lost": Q(lost_from__lte=day)}[band]


def lagging_filter(day: date) -> Q:
    """Members with two purchases or more whose days since the last exceed their usual gap on ``day``."""
    return Q(purchases__gte=2, lagging_from__lte=day)


def never_returned_filter(day: date) -> Q:
    """Members with one purchase or none who joined more than ``NEVER_RETURNED_DAYS`` days before ``day``."""
    return Q(purchases__lte=1, enrolled_on__lt=day - timedelta(days=NEVER_RETURNED_DAYS))


def health_segment_ids(*, program, day: date | None = None, band: str = "", lagging_only: bool = False):
    """The ids of the program's members in a band and/or lagging on ``day``, as a subquery (``member_id``) for
    another queryset's ``pk__in``."""
    day = day or health_today(program)
    rows = MemberHealth.objects.filter(program=program)
    if band:
        rows = rows.filter(band_filter(band, day))
    if lagging_only:
        rows = rows.filter(lagging_filter(day))
    return rows.values("member_id")


@dataclass(frozen=True)
class BandCount:
    slug: str
    name: str
    rule: str
    members: int
    share: float  # percent of the members scored


def _entered(program, day: date) -> dict:
    """How many members have entered each band and list by the end of ``day`` (the sums of ``HealthDay``)."""
    sums = HealthDay.objects.filter(program=program, day__lte=day).aggregate(
        watch=Sum("watch"), at_risk=Sum("at_risk"), lost=Sum("lost"), lagging=Sum("lagging"),
        never_returned=Sum("never_returned"))
    return {name: value or 0 for name, value in sums.items()}


def band_counts(*, program, day: date) -> list[BandCount]:
    """How many members are in each band on ``day``: every band starts no later than the next, so each count is
    the difference of two sums over ``HealthDay``."""
    norms = health_norms_get(program=program)
    total = norms.members if norms else 0
    entered = _entered(program, day)
    counts = {"healthy": total - entered["watch"], "watch": entered["watch"] - entered["at_risk"],
              "at-risk": entered["at_risk"] - entered["lost"], "lost": entered["lost"]}
    return [BandCount(slug=slug, name=name, rule=rule, members=counts[slug],
                      share=round(100 * counts[slug] / total, 1) if total else 0.0) for slug, name, rule in BANDS]


def health_list_count(*, program, day: date, which: str) -> int:
    """How many members a list (``lagging``, ``never-returned`` or a band's slug) has on ``day``."""
    if which in ("lagging", "never-returned"):
        return _entered(program, day)[which.replace("-", "_")]
    return next(band.members for band in band_counts(program=program, day=day) if band.slug == which)


def score_distribution(*, program) -> tuple[date | None, list[int]]:
    """Members by score in ten bins (0–9 … 90–100), as of the last rolled-up day: (that day, the counts)."""
    norms = health_norms_get(program=program)
    if norms is None or not norms.distribution:
        return None, [0] * 10
    return norms.distribution_on, list(norms.distribution)


@dataclass(frozen=True)
class HealthPage:
    members: list[Health]
    count: int
    page: int
    pages: int
    size: int

    @property
    def reachable(self) -> int:
        """How many of the list the pages reach: the CSV has them all."""
        return min(self.count, self.pages * self.size)


MAX_PAGES = 200  # deeper pages would be slow to skip to, and nobody reads that far: the CSV has every member


def _page(program, rows, day: date, page: int, size: int, count: int) -> HealthPage:
    pages = min(MAX_PAGES, max(1, -(-count // size)))
    page = min(page, pages)
    found = rows[(page - 1) * size: page * size]
    return HealthPage(members=_healths(program, found, day), count=count, page=page, pages=pages, size=size)


def lagging_members(*, program, day: date, page: int = 1, size: int = 25) -> HealthPage:
    """The members lagging on ``day``, those who began to lag most recently first (still the easiest to win back)."""
    rows = (MemberHealth.objects.filter(program=program).filter(lagging_filter(day))
            .order_by("-lagging_from", "member_id"))
    return _page(program, rows, day, page, size, health_list_count(program=program, day=day, which="lagging"))


def never_returned_members(*, program, day: date, page: int = 1, size: int = 25) -> HealthPage:
    """The members who joined more than ``NEVER_RETURNED_DAYS`` days before ``day`` and bought once or never,
    the most recently joined first."""
    rows = (MemberHealth.objects.filter(program=program).filter(never_returned_filter(day))
            .order_by("-enrolled_on", "member_id"))
    return _page(program, rows, day, page, size,
                 health_list_count(program=program, day=day, which="never-returned"))


def health_list_rows(*, program, day: date, which: str, chunk: int = 2000):
    """Every member of a list (``lagging``, ``never-returned`` or a band's slug) on ``day``, as ``Health``, read in
    chunks by member id (for the CSV files)."""
    if which == "lagging":
        condition = lagging_filter(day)
    elif which == "never-returned":
        condition = never_returned_filter(day)
    else:
        condition = band_filter(which, day)
    rows = MemberHealth.objects.filter(program=program).filter(condition).order_by("member_id")
    after = None
    while True:
        batch = list((rows.filter(member_id__gt=after) if after else rows)[:chunk])
        if not batch:
            return
        yield from _healths(program, batch, day)
        after = batch[-1].member_id


def health_norms_get(*, program) -> HealthNorms | None:
    return HealthNorms.objects.filter(program=program).first()
