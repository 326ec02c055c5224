"""Deterministic demo data for the landing zone.

``generate_demo_data`` writes a realistic, messy but fully reproducible set of source files for the three landing
sources and a ground-truth file that says which behaviour was planted on which customer:

``landing/orders/``
    ``orders_<year>.parquet`` (history up to two calendar months before the as-of date; ``order_ts`` and
    ``updated_at`` are real ``TIMESTAMP WITH TIME ZONE`` columns in UTC, amounts ``DECIMAL(18,2)``),
    ``orders_<YYYY-MM>.csv.gz`` and ``orders_<YYYY-MM>.csv`` (the two months before the last days; comma
    separated, status in varying case, timestamps as ISO 8601 text), ``orders_<first day>_<last day>.jsonl``
    (the last three days up to the as-of date). Files are cut by the row's ``updated_at`` (UTC), like an
    incremental export: a few orders appear twice, the later row having a newer ``updated_at`` and a changed
    status ("latest wins").
``landing/contacts/contacts_export.csv``
    UTF-8 with BOM, semicolon separated; one primary contact per customer, 2–4 contacts for business accounts,
    about 2 % of customers with a duplicate record of the same person (same e-mail up to case and surrounding
    blanks), prospects that have contacts but no orders.
``landing/survey_responses/``
    one tab-separated ``.csv`` (the oldest year) and two ``.jsonl`` files; ~40 % without ``contact_id``, ~3 %
    from e-mail addresses that match no contact.
``demo/truth.parquet``
    one row per customer: ``customer_id``, ``archetype`` (vip, steady, declining, churned, reactivated, new,
    occasional, prospect), ``is_business``, ``unhappy``, ``has_duplicate_contact``.

Text timestamps are ISO 8601: mostly UTC with ``Z`` or ``+00:00``, some with the customer's local offset
(``+08:00``, ``-05:00``…), some naive (``YYYY-MM-DD HH:MM:SS``) which mean UTC. Every order instant lies between
the as-of date minus two years (00:00:00 UTC) and the as-of date 23:59:59 UTC.

Everything is generated with numpy from ``seed`` (no wall clock) and written with DuckDB, so the same seed, sizes
and as-of date give byte-identical files (with the same DuckDB version). Each file is written under a hidden
temporary name, dated the end of the as-of day (23:59:59 UTC, when the demo's exports are "delivered") and then
renamed into place, so a loader never sees a partial file and finds every file settled. All work is vectorized: 10 million orders
take well under two minutes on two cores.
"""

from __future__ import annotations

import codecs
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingestion.contracts import SOURCES

__all__ = ["ARCHETYPES", "DemoDataSummary", "MIN_ORDERS", "generate_demo_data"]

DAY = 86_400
#: Smallest supported ``orders`` (50 customers, so that every archetype is present).
MIN_ORDERS = 1_000
ORDERS_PER_CUSTOMER = 20
SURVEY_EVERY_N_ORDERS = 8

#: Planted customer behaviours and their share of customers.
ARCHETYPES: dict[str, float] = {
    "vip": 0.01,
    "steady": 0.45,
    "declining": 0.12,
    "churned": 0.15,
    "reactivated": 0.05,
    "new": 0.07,
    "occasional": 0.10,
    "prospect": 0.05,
}
_ARCH = {name: code for code, name in enumerate(ARCHETYPES)}

# --- orders ----------------------------------------------------------------------------------------------------------
STATUSES = ("completed", "cancelled", "refunded", "pending")
_COMPLETED, _CANCELLED, _REFUNDED, _PENDING = range(4)
_STATUS_P_OLD = (0.86, 0.07, 0.055, 0.015)
_STATUS_P_RECENT = (0.70, 0.06, 0.04, 0.20)  # orders of the last 7 days are often still pending
_STATUS_TEXT_CSV = [variant for s in STATUSES for variant in (s, s.capitalize(), s.upper())]
_CASE_P = (0.70, 0.20, 0.10)  # lower / Capitalized / UPPER

CATEGORIES = (
    ("Electronics", 2.0),
    ("Home & Garden", 1.2),
    ("Books", 0.4),
    ("Clothing", 0.8),
    ("Toys & Games", 0.7),
    ("Sports & Outdoors", 1.1),
    ("Beauty", 0.6),
    ("Grocery", 0.5),
    ("Office Supplies", 0.7),
    ("Software", 1.5),
)
_CATEGORY_TEXT = [variant for c, _ in CATEGORIES for variant in (c, c.lower(), c.upper())]
_CATEGORY_FACTOR = np.array([f for _, f in CATEGORIES])
_BUSINESS_CATEGORIES = np.array([0, 8, 9])

CHANNELS = ("online", "store", "sales_rep", "partner", "other")
_CHANNEL_P_CONSUMER = [0.62, 0.22, 0.02, 0.09, 0.05]
_CHANNEL_P_BUSINESS = [0.35, 0.05, 0.35, 0.20, 0.05]

CURRENCIES = ("USD", "EUR", "GBP", "CNY")
_FX_PER_USD = np.array([1.0, 0.92, 0.79, 7.2])

# Hour-of-day profile (UTC) of order and survey timestamps.
_HOUR_WEIGHTS = (2, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 5, 5, 4, 3, 3)
_HOUR_LOOKUP = np.repeat(np.arange(24, dtype=np.int64), _HOUR_WEIGHTS)  # uniform index -> weighted hour

# Rendering of text timestamps: suffix code -> (suffix, shift of the wall clock in seconds).
_TZ_Z, _TZ_UTC_OFFSET, _TZ_NAIVE, _TZ_LOCAL = range(4)
_TZ_P = (0.55, 0.20, 0.10, 0.15)

# --- customers and contacts ------------------------------------------------------------------------------------------
COUNTRIES = ("US", "GB", "DE", "FR", "CN", "JP")
_COUNTRY_P = [0.44, 0.10, 0.14, 0.09, 0.17, 0.06]
_COUNTRY_LOCALE = np.array([0, 0, 1, 2, 3, 4])  # en, en, de, fr, zh, ja
_COUNTRY_CURRENCY = np.array([0, 2, 1, 1, 3, 0])
_COUNTRY_OFFSET = (("-05:00", -5 * 3600), ("+01:00", 3600), ("+02:00", 7200), ("+02:00", 7200),
                   ("+08:00", 8 * 3600), ("+09:00", 9 * 3600))  # fmt: skip
_TZ_SUFFIX = ["Z", "+00:00", ""] + [s for s, _ in _COUNTRY_OFFSET]
_TZ_SHIFT = np.array([0, 0, 0] + [s for _, s in _COUNTRY_OFFSET], dtype=np.int64)

# (country index, region, city, phone area code)
_CITIES = (
    (0, "CA", "San Francisco", "415"), (0, "NY", "New York", "212"), (0, "TX", "Austin", "512"),
    (0, "IL", "Chicago", "312"), (0, "WA", "Seattle", "206"), (0, "MA", "Boston", "617"),
    (1, "England", "London", "20"), (1, "England", "Manchester", "161"), (1, "Scotland", "Edinburgh", "131"),
    (1, "Wales", "Cardiff", "29"),
    (2, "Berlin", "Berlin", "30"), (2, "Bayern", "München", "89"), (2, "Hamburg", "Hamburg", "40"),
    (2, "Nordrhein-Westfalen", "Köln", "221"), (2, "Baden-Württemberg", "Stuttgart", "711"),
    (3, "Île-de-France", "Paris", "1"), (3, "Auvergne-Rhône-Alpes", "Lyon", "4"),
    (3, "Provence-Alpes-Côte d'Azur", "Marseille", "4"), (3, "Occitanie", "Toulouse", "5"),
    (4, "Shanghai", "Shanghai", "21"), (4, "Beijing", "Beijing", "10"), (4, "Guangdong", "Shenzhen", "755"),
    (4, "Zhejiang", "Hangzhou", "571"),
    (5, "Tokyo", "Tokyo", "3"), (5, "Osaka", "Osaka", "6"), (5, "Kanagawa", "Yokohama", "45"),
)  # fmt: skip
_CITY_COUNTRY = np.array([c[0] for c in _CITIES])

# Phone formats per country (SQL over `area`, `d8` = 8 zero-padded digits, `mob` = mobile prefix).
_PHONE_SQL: tuple[tuple[str, ...], ...] = (
    (
        "'+1 ' || area || ' 555 ' || d8[5:8]",
        "'(' || area || ') 555-' || d8[5:8]",
        "area || '-555-' || d8[5:8]",
    ),
    ("'+44 ' || area || ' ' || d8[1:4] || ' ' || d8[5:8]", "'0' || area || ' ' || d8[1:4] || ' ' || d8[5:8]"),
    (
        "'+49 ' || area || ' ' || d8[2:8]",
        "'0049 ' || area || ' ' || d8[2:8]",
        "'0' || area || '/' || d8[2:8]",
    ),
    (
        "'+33 ' || area || ' ' || d8[1:2] || ' ' || d8[3:4] || ' ' || d8[5:6] || ' ' || d8[7:8]",
        "'0' || area || ' ' || d8[1:2] || ' ' || d8[3:4] || ' ' || d8[5:6] || ' ' || d8[7:8]",
    ),
    (
        "'+86 ' || mob || ' ' || d8[1:4] || ' ' || d8[5:8]",
        "mob || d8",
        "'+86 ' || area || ' ' || d8[1:4] || ' ' || d8[5:8]",
    ),
    ("'+81 ' || area || '-' || d8[1:4] || '-' || d8[5:8]", "'0' || area || '-' || d8[1:4] || '-' || d8[5:8]"),
)
_PHONE_STYLES = np.array([len(p) for p in _PHONE_SQL])
_CN_MOBILE = ["138", "139", "186", "135", "150", "177"]

# Name pools per locale: (display, ascii) pairs. For zh/ja "first" is the given name, "last" the family name.
_LOCALES = ("en", "de", "fr", "zh", "ja")
_FIRST_NAMES: tuple[tuple[tuple[str, str], ...], ...] = (
    tuple((n, n.lower()) for n in ("James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda",
                                   "David", "Elizabeth", "Sarah", "Thomas", "Emily", "Daniel", "Olivia", "Chloe",
                                   "Liam", "Grace", "Noah", "Ava")),
    (("Jürgen", "juergen"), ("Anna", "anna"), ("Lukas", "lukas"), ("Sören", "soeren"), ("Jörg", "joerg"),
     ("Käthe", "kaethe"), ("Maximilian", "maximilian"), ("Sophie", "sophie"), ("Björn", "bjoern"), ("Lena", "lena"),
     ("Günther", "guenther"), ("Maria", "maria"), ("Felix", "felix"), ("Ute", "ute"), ("Matthias", "matthias")),
    (("Élodie", "elodie"), ("Chloé", "chloe"), ("François", "francois"), ("Hélène", "helene"), ("Léa", "lea"),
     ("Théo", "theo"), ("Jérôme", "jerome"), ("Amélie", "amelie"), ("Noël", "noel"), ("Céline", "celine"),
     ("Camille", "camille"), ("Louis", "louis"), ("Inès", "ines"), ("Gaëlle", "gaelle"), ("Mathis", "mathis")),
    (("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"), ("磊", "lei"), ("强", "qiang"),
     ("洋", "yang"), ("艳", "yan"), ("杰", "jie"), ("婷婷", "tingting"), ("晓明", "xiaoming"), ("子涵", "zihan"),
     ("浩然", "haoran"), ("秀英", "xiuying")),
    (("健", "ken"), ("陽菜", "hina"), ("翔", "sho"), ("美咲", "misaki"), ("大輔", "daisuke"), ("さくら", "sakura"),
     ("蓮", "ren"), ("結衣", "yui"), ("拓海", "takumi"), ("葵", "aoi")),
)  # fmt: skip
_LAST_NAMES: tuple[tuple[tuple[str, str], ...], ...] = (
    tuple((n, a) for n, a in (("Smith", "smith"), ("Johnson", "johnson"), ("Williams", "williams"),
                              ("Brown", "brown"), ("Jones", "jones"), ("Miller", "miller"), ("Davis", "davis"),
                              ("Wilson", "wilson"), ("Taylor", "taylor"), ("Anderson", "anderson"),
                              ("O'Brien", "obrien"), ("Clarke", "clarke"), ("Walker", "walker"),
                              ("Wright", "wright"), ("Hughes", "hughes"), ("Evans", "evans"), ("Murphy", "murphy"),
                              ("Patel", "patel"), ("Nguyen", "nguyen"), ("García", "garcia"))),
    (("Müller", "mueller"), ("Schmidt", "schmidt"), ("Schneider", "schneider"), ("Fischer", "fischer"),
     ("Weiß", "weiss"), ("Becker", "becker"), ("Hoffmann", "hoffmann"), ("Schäfer", "schaefer"),
     ("Köhler", "koehler"), ("Krüger", "krueger"), ("Wagner", "wagner"), ("Zimmermann", "zimmermann"),
     ("Groß", "gross"), ("Braun", "braun"), ("Vogel", "vogel")),
    (("Lefèvre", "lefevre"), ("Dubois", "dubois"), ("Moreau", "moreau"), ("Laurent", "laurent"),
     ("Girard", "girard"), ("Rousseau", "rousseau"), ("Fournier", "fournier"), ("Mercier", "mercier"),
     ("Faure", "faure"), ("Chevalier", "chevalier"), ("Lemaître", "lemaitre"), ("Bonnet", "bonnet"),
     ("Dupont", "dupont"), ("Gauthier", "gauthier"), ("Benoît", "benoit")),
    (("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"), ("杨", "yang"), ("黄", "huang"),
     ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"), ("徐", "xu"), ("孙", "sun"), ("马", "ma"), ("朱", "zhu"),
     ("胡", "hu")),
    (("佐藤", "sato"), ("鈴木", "suzuki"), ("高橋", "takahashi"), ("田中", "tanaka"), ("伊藤", "ito"),
     ("渡辺", "watanabe"), ("山本", "yamamoto"), ("中村", "nakamura"), ("小林", "kobayashi"), ("加藤", "kato")),
)  # fmt: skip

_COMPANY_STEMS = (
    ("Blue River", "blueriver"), ("Nordlicht", "nordlicht"), ("Süd-West", "suedwest"), ("Étoile", "etoile"),
    ("Orient Star", "orientstar"), ("Sakura", "sakura"), ("Greenfield", "greenfield"), ("Summit", "summit"),
    ("Brightway", "brightway"), ("Redwood", "redwood"), ("Lindenhof", "lindenhof"), ("Rivoli", "rivoli"),
    ("Golden Dragon", "goldendragon"), ("Fuji", "fuji"), ("Northwind", "northwind"), ("Harbor", "harbor"),
    ("Alpen", "alpen"), ("Seine", "seine"), ("Pacific", "pacific"), ("Evergreen", "evergreen"),
)  # fmt: skip
_COMPANY_NOUNS = ("Logistics", "Systems", "Trading", "Foods", "Retail", "Media", "Engineering", "Consulting",
                  "Health", "Labs", "Software", "Interiors")  # fmt: skip
_COMPANY_SUFFIX = ("Inc.", "Ltd", "GmbH", "SAS", "Co., Ltd.", "K.K.")
_JOB_TITLES = ("CEO", "Managing Director", "Head of Purchasing", "Procurement Manager", "Office Manager", "CTO",
               "Operations Manager", "Finance Director", "IT Administrator", "Einkaufsleiterin",
               "Responsable des achats", "采购经理", "購買部長")  # fmt: skip
_INDUSTRIES = ("Retail", "Manufacturing", "Software", "Healthcare", "Financial Services", "Education",
               "Logistics", "Hospitality", "Construction", "Media")  # fmt: skip
_ACCOUNT_MANAGERS = ("Anna Becker", "James O'Connor", "Zoë Hartmann", "Léa Martin", "李娜", "Kenji Watanabe",
                     "Priya Sharma", "Tom Fischer", "María López", "Oliver Smith", "Chen Jing", "Sophie Dubois")  # fmt: skip
_ACQUISITION = (
    "organic_search",
    "paid_search",
    "social",
    "referral",
    "email",
    "partner",
    "store",
    "trade_show",
)
_CONSUMER_DOMAINS = (
    "example.com",
    "example.net",
    "example.org",
    "mail.example",
    "inbox.example",
    "post.example",
)

# --- surveys ---------------------------------------------------------------------------------------------------------
_SURVEYS = ("post_purchase", "quarterly_nps", "support_followup")
_COMPLAINT_CATEGORIES = ("delivery", "product_quality", "billing", "customer_service", "returns")
_NPS_P = np.array([1, 1, 1, 1.5, 1.5, 2.5, 4, 9, 19, 25, 34.5]) / 100
# Comments per language (en, de, fr, zh, ja) and sentiment (positive, neutral, negative).
_COMMENTS: tuple[tuple[tuple[str, ...], ...], ...] = (
    (("Great service, fast delivery!", "Love the product quality.", "Excellent support team - thank you."),
     ("OK overall, delivery took a bit long.", "Product is fine; the price could be better."),
     ("The item arrived damaged and nobody answered my emails.", "Very disappointed, I want a refund.",
      'Third time the "express" delivery was late, not acceptable.')),
    (("Super Service, schnelle Lieferung!", "Sehr zufrieden mit der Qualität."),
     ("Ganz okay, aber die Lieferung dauerte zu lange.",),
     ("Ware kam beschädigt an, der Kundendienst reagiert nicht.", "Enttäuschend – die Rechnung war falsch.")),
    (("Très satisfait, livraison rapide !", "Produit de qualité, je recommande."),
     ("Correct, mais un peu cher.",),
     ("Colis abîmé et service client injoignable.", "Déçu : remboursement toujours pas reçu.")),
    (("非常满意，发货很快！", "质量很好，会再次购买。"),
     ("还可以，物流有点慢。",),
     ("商品有损坏，客服一直不回复。", "价格太贵了，质量也一般。")),
    (("とても満足しています。配送も早かったです。",),
     ("普通です。もう少し安ければ嬉しいです。",),
     ("商品が破損していました。対応も遅いです。",)),
)  # fmt: skip

_ROLE_NORMAL, _ROLE_DECLINE_PREV, _ROLE_DECLINE_CUR = range(3)


@dataclass(frozen=True)
class DemoDataSummary:
    """What ``generate_demo_data`` wrote.

    ``orders`` counts distinct order ids; ``order_rows`` also counts the re-delivered versions.
    ``files`` lists the landing files (sorted); the ground truth is at ``truth_path``.
    """

    orders: int
    customers: int
    contacts: int
    survey_responses: int
    files: list[Path]
    order_rows: int = 0
    duplicate_contacts: int = 0
    unmatched_survey_responses: int = 0
    archetypes: dict[str, int] = field(default_factory=dict)
    truth_path: Path | None = None
    as_of: date | None = None
    seed: int = 0


def generate_demo_data(
    home: Path,
    *,
    orders: int = 100_000,
    seed: int = 42,
    as_of: date = date(2026, 6, 30),
    progress: Callable[[str], None] | None = None,
) -> DemoDataSummary:
    """Write the demo landing files and the ground truth under ``home`` (see the module docstring).

    Args:
        home: data root (``$C360_HOME``); files go to ``home/landing/<source>/`` and ``home/demo/truth.parquet``.
            Files from an earlier run (``<source>_*`` with a .parquet/.csv/.csv.gz/.jsonl suffix) are removed first.
        orders: number of distinct orders (>= ``MIN_ORDERS``); customers = ``orders // 20``.
        seed: random seed; same seed, sizes and ``as_of`` give identical files.
        as_of: last day of data; orders span the two years ending on this day (UTC).
        progress: optional callback receiving one-line progress messages.

    Returns:
        A ``DemoDataSummary`` with the counts and the written files.
    """
    if orders < MIN_ORDERS:
        raise ValueError(f"orders must be at least {MIN_ORDERS} (got {orders})")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer (got {seed})")
    if isinstance(as_of, datetime):
        as_of = as_of.date()
    report = progress or (lambda _message: None)
    home = Path(home)
    cal = _Calendar.for_as_of(as_of)
    n_customers = orders // ORDERS_PER_CUSTOMER

    landing = home / "landing"
    for source in SOURCES:
        _clean_source_folder(landing / source, source)
    (home / "demo").mkdir(parents=True, exist_ok=True)

    report(f"generating {orders:,} orders, {n_customers:,} customers, as-of {as_of.isoformat()}, seed {seed}")
    customers = _make_customers(np.random.default_rng([seed, 1]), n_customers)
    order_data = _make_orders(np.random.default_rng([seed, 2]), customers, orders, cal)
    report(f"generated {order_data.n_rows:,} order rows ({orders:,} distinct orders)")
    contacts = _make_contacts(np.random.default_rng([seed, 3]), customers, order_data.first_ts, cal)
    report(f"generated {contacts.n:,} contacts ({contacts.n_duplicates:,} duplicate records)")

    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET preserve_insertion_order = true")
        con.execute("SET enable_progress_bar = false")
        files: list[Path] = []
        files += _write_orders(con, order_data, customers, cal, landing / "orders", report)
        contact_path, normalized_emails = _write_contacts(
            con, contacts, customers, landing / "contacts", cal.end_epoch
        )
        files.append(contact_path)
        report(f"wrote {contact_path.name} ({contacts.n:,} rows)")
        surveys = _make_surveys(
            np.random.default_rng([seed, 4]),
            customers,
            order_data,
            contacts,
            orders // SURVEY_EVERY_N_ORDERS,
            cal,
        )
        files += _write_surveys(
            con, surveys, normalized_emails, contacts.n, cal, landing / "survey_responses", report
        )
    finally:
        con.close()

    truth_path = home / "demo" / "truth.parquet"
    _write_truth(customers, contacts, truth_path)
    report(f"wrote ground truth {truth_path}")
    counts = np.bincount(customers.archetype, minlength=len(ARCHETYPES))
    return DemoDataSummary(
        orders=orders,
        customers=n_customers,
        contacts=contacts.n,
        survey_responses=surveys.n,
        files=sorted(files),
        order_rows=order_data.n_rows,
        duplicate_contacts=contacts.n_duplicates,
        unmatched_survey_responses=surveys.n_unmatched,
        archetypes={name: int(counts[code]) for name, code in _ARCH.items()},
        truth_path=truth_path,
        as_of=as_of,
        seed=seed,
    )


# ---------------------------------------------------------------------------------------------------------------------
# calendar


@dataclass(frozen=True)
class _Calendar:
    as_of: date
    start: date  # first day of the two-year window
    span: int  # days between start and as_of
    as_of_epoch: int  # as_of 00:00:00 UTC, seconds
    end_epoch: int  # as_of 23:59:59 UTC

    @classmethod
    def for_as_of(cls, as_of: date) -> _Calendar:
        try:
            start = as_of.replace(year=as_of.year - 2)
        except ValueError:  # 29 February
            start = as_of.replace(year=as_of.year - 2, day=28)
        epoch = _epoch(as_of)
        return cls(as_of, start, (as_of - start).days, epoch, epoch + DAY - 1)


def _epoch(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _previous_month_start(day: date) -> date:
    return (_month_start(day) - timedelta(days=1)).replace(day=1)


# ---------------------------------------------------------------------------------------------------------------------
# customers


@dataclass
class _Customers:
    archetype: np.ndarray  # int8 code into ARCHETYPES
    country: np.ndarray  # int8 index into COUNTRIES
    city: np.ndarray  # int16 index into _CITIES
    business: np.ndarray  # bool
    currency: np.ndarray  # int8 index into CURRENCIES
    base_amount: np.ndarray  # float64, typical order value in USD
    favorite: np.ndarray  # (n, 2) int8 favourite categories
    unhappy: np.ndarray  # bool: planted complaints / low NPS in the last 90 days

    @property
    def n(self) -> int:
        return len(self.archetype)


def _make_customers(rng: np.random.Generator, n: int) -> _Customers:
    shares = np.array(list(ARCHETYPES.values()))
    counts = np.maximum(1, np.floor(shares * n)).astype(np.int64)
    steady = _ARCH["steady"]
    counts[steady] += n - counts.sum()
    archetype = np.repeat(np.arange(len(shares), dtype=np.int8), counts)[rng.permutation(n)]

    country = rng.choice(len(COUNTRIES), n, p=_COUNTRY_P).astype(np.int8)
    city_counts = np.bincount(_CITY_COUNTRY, minlength=len(COUNTRIES))
    city_offset = np.concatenate([[0], np.cumsum(city_counts)[:-1]])
    city = (city_offset[country] + np.floor(rng.random(n) * city_counts[country])).astype(np.int16)

    vip = archetype == _ARCH["vip"]
    business = np.where(vip, rng.random(n) < 0.5, rng.random(n) < 0.2)
    currency = _COUNTRY_CURRENCY[country].astype(np.int8)
    currency[(currency != 0) & (rng.random(n) < 0.08)] = 0  # some foreign customers pay in USD

    base_amount = rng.lognormal(np.log(60.0), 0.55, n)
    base_amount *= np.where(business, 2.5, 1.0) * np.where(vip, 5.0, 1.0)

    favorite = rng.integers(0, len(CATEGORIES), (n, 2)).astype(np.int8)
    favorite[business, 0] = rng.choice(_BUSINESS_CATEGORIES, int(business.sum()))

    unhappy = np.zeros(n, dtype=bool)
    declining = archetype == _ARCH["declining"]
    unhappy[declining] = rng.random(int(declining.sum())) < 0.6
    steady_mask = archetype == steady
    unhappy[steady_mask] = rng.random(int(steady_mask.sum())) < 0.06
    return _Customers(archetype, country, city, business, currency, base_amount, favorite, unhappy)


# ---------------------------------------------------------------------------------------------------------------------
# orders


class _Segments:
    """Blocks of orders of one customer placed between two day offsets (days before as-of)."""

    def __init__(self) -> None:
        self._parts: list[dict[str, np.ndarray]] = []

    def add(
        self,
        cust: np.ndarray,
        n: np.ndarray | int,
        lo: np.ndarray | int,
        hi: np.ndarray | int,
        *,
        jitter: float,
        forced: np.ndarray | int = 0,
        mult: float = 1.0,
        role: int = _ROLE_NORMAL,
        mirror: bool = False,
    ) -> None:
        """``n`` orders spread evenly over days ``lo..hi`` before as-of (j = 0 is the most recent).

        ``jitter`` moves each order within its slot (0.5 = anywhere in the slot); the ``forced`` most recent orders
        are completed; ``mirror`` repeats every order 90 days later with a similar amount.
        """
        k = len(cust)

        def full(value: np.ndarray | float, dtype: type) -> np.ndarray:
            return np.broadcast_to(np.asarray(value, dtype=dtype), (k,)).copy()

        self._parts.append(
            {
                "cust": cust.astype(np.intp),
                "n": full(n, np.int64),
                "lo": full(lo, np.int32),
                "hi": full(hi, np.int32),
                "jitter": full(jitter, np.float32),
                "forced": full(forced, np.int64),
                "mult": full(mult, np.float32),
                "role": full(role, np.int8),
                "mirror": full(mirror, np.bool_),
            }
        )

    def total_orders(self) -> int:
        return int(sum((p["n"] * np.where(p["mirror"], 2, 1)).sum() for p in self._parts))

    def concat(self) -> dict[str, np.ndarray]:
        return {key: np.concatenate([p[key] for p in self._parts]) for key in self._parts[0]}


@dataclass
class _Orders:
    """Order rows (final versions first, then the stale earlier versions of re-delivered orders)."""

    cols: dict[str, np.ndarray]
    n_orders: int
    first_ts: np.ndarray  # per customer, first order instant (epoch s), -1 for prospects

    @property
    def n_rows(self) -> int:
        return len(self.cols["order_no"])


def _make_orders(rng: np.random.Generator, cu: _Customers, n_orders: int, cal: _Calendar) -> _Orders:
    span = cal.span
    segs = _Segments()

    def members(name: str) -> np.ndarray:
        return np.flatnonzero(cu.archetype == _ARCH[name])

    # steady and vip: regular history, and the previous 90 days mirrored into the current 90 days.
    steady, vip = members("steady"), members("vip")
    segs.add(steady, rng.integers(3, 6, len(steady)), 90, 179, jitter=0.15, forced=1, mirror=True)
    segs.add(vip, rng.integers(10, 16, len(vip)), 90, 179, jitter=0.15, forced=3, mirror=True)
    # declining: regular history, >= 4 completed orders in the previous 90 days, at most one small one since.
    dec = members("declining")
    prev = rng.integers(4, 8, len(dec))
    hist = np.round(prev * (span - 180) / 90 * rng.uniform(0.6, 0.9, len(dec))).astype(np.int64)
    segs.add(dec, hist, 180, span, jitter=0.15)
    segs.add(dec, prev, 92, 177, jitter=0.15, forced=prev, role=_ROLE_DECLINE_PREV)
    current = (rng.random(len(dec)) < 0.6).astype(np.int64)
    segs.add(dec, current, 3, 87, jitter=0.5, forced=1, mult=0.35, role=_ROLE_DECLINE_CUR)
    # churned: active for a while, nothing in the last 210 days.
    ch = members("churned")
    lo = rng.integers(210, 361, len(ch))
    segs.add(ch, rng.integers(2, 11, len(ch)), lo, rng.integers(lo + 90, span + 1), jitter=0.5, forced=1)
    # reactivated: early orders (>= 300 days ago), nothing for > 240 days, then orders in the last 55 days.
    re_ = members("reactivated")
    segs.add(re_, rng.integers(3, 9, len(re_)), rng.integers(300, 421, len(re_)), span, jitter=0.5, forced=1)
    segs.add(re_, rng.integers(1, 4, len(re_)), 1, 55, jitter=0.5, forced=1)
    # new: first order within the last 55 days.
    new = members("new")
    segs.add(new, rng.integers(1, 5, len(new)), 0, 55, jitter=0.5, forced=1)
    # occasional: 5-8 orders spread evenly over a window from 400-560 to 20-100 days ago.
    occ = members("occasional")
    segs.add(occ, rng.integers(5, 9, len(occ)), rng.integers(20, 101, len(occ)), rng.integers(400, 561, len(occ)),
             jitter=0.15, forced=1)  # fmt: skip

    # The rest of the order budget goes to the history of steady and vip customers.
    flex = np.concatenate([steady, vip])
    flex_min = np.concatenate([np.full(len(steady), 12), np.full(len(vip), 30)])
    weight = np.concatenate([rng.uniform(0.6, 1.6, len(steady)), np.full(len(vip), 5.0)])
    budget = n_orders - segs.total_orders() - int(flex_min.sum())
    if budget < 0:
        raise ValueError(
            f"orders={n_orders} is too small for the planted behaviours; use at least {MIN_ORDERS}"
        )
    segs.add(flex, flex_min + rng.multinomial(budget, weight / weight.sum()), 180, span, jitter=0.15)

    seg = segs.concat()
    cols = _expand_segments(rng, seg, cu, cal)
    assert len(cols["cust"]) == n_orders, (len(cols["cust"]), n_orders)

    # Order numbers follow time; then refunds/late updates and re-delivered orders.
    order = _sort_order(cols["ts"] - _epoch(cal.start), np.arange(n_orders, dtype=np.int64))
    cols = {key: value[order] for key, value in cols.items()}
    cols["order_no"] = np.arange(1, n_orders + 1, dtype=np.int64)
    first_ts = np.full(cu.n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first_ts, cols["cust"], cols["ts"])
    first_ts[first_ts == np.iinfo(np.int64).max] = -1
    cols = _add_updates(rng, cols, cal)
    return _Orders(cols, n_orders, first_ts)


def _expand_segments(
    rng: np.random.Generator, seg: dict[str, np.ndarray], cu: _Customers, cal: _Calendar
) -> dict[str, np.ndarray]:
    n = seg["n"]
    total = int(n.sum())
    sid = np.repeat(np.arange(len(n), dtype=np.intp), n)  # intp: gathers need no index conversion
    starts = np.cumsum(n) - n
    j = np.arange(total, dtype=np.int64) - np.repeat(starts, n)
    lo, hi = seg["lo"][sid], seg["hi"][sid]
    # Slot j of n, shifted by a per-segment phase (regular segments) and a per-order jitter; reflecting the
    # spill at both ends keeps the overall density of orders flat over time.
    jitter = seg["jitter"]
    phase = np.where(jitter >= 0.5, 0.5, rng.random(len(n)))
    x = j + phase[sid] + rng.uniform(-1.0, 1.0, total) * jitter[sid]
    x = np.abs(x)
    x = np.where(x > n[sid], 2 * n[sid] - x, x)
    day = np.clip(lo + np.floor(x / n[sid] * (hi - lo + 1)).astype(np.int32), lo, hi).astype(np.int32)
    cust = seg["cust"][sid]

    r = rng.random(total)
    status = _categorical(r, _STATUS_P_OLD)
    recent = np.flatnonzero(day <= 7)
    status[recent] = _categorical(r[recent], _STATUS_P_RECENT)
    forced = j < seg["forced"][sid]
    status[forced] = _COMPLETED
    role = seg["role"][sid]

    favorite_pick = cu.favorite[cust, (rng.random(total) < 0.5).astype(np.int8)]
    category = np.where(rng.random(total) < 0.7, favorite_pick, rng.integers(0, len(CATEGORIES), total))
    category = category.astype(np.int8)
    gross_usd = (
        cu.base_amount[cust] * seg["mult"][sid] * _CATEGORY_FACTOR[category] * rng.lognormal(0.0, 0.35, total)
    )
    r = rng.random(total)
    channel = np.where(
        cu.business[cust], _categorical(r, _CHANNEL_P_BUSINESS), _categorical(r, _CHANNEL_P_CONSUMER)
    )
    disc_kind = _categorical(rng.random(total), (0.55, 0.35, 0.10))
    disc_frac = np.where(disc_kind == 1, rng.uniform(0.05, 0.30, total), 0.0)
    cost_frac = rng.uniform(0.40, 0.75, total)
    cost_null = rng.random(total) < 0.05
    zero_gross = (rng.random(total) < 0.002) & ~forced & (role == _ROLE_NORMAL) & ~seg["mirror"][sid]
    gross_usd[zero_gross] = 0.0

    cols = {
        "cust": cust,
        "day": day,
        "status": status,
        "role": role,
        "category": category,
        "gross_usd": gross_usd,
        "channel": channel,
        "disc_kind": disc_kind,
        "disc_frac": disc_frac,
        "cost_frac": cost_frac,
        "cost_null": cost_null,
    }
    # Mirror the previous 90 days of steady/vip customers into the current 90 days (same statuses, +-8 % amounts).
    src = np.flatnonzero(seg["mirror"][sid])
    copies = {key: value[src] for key, value in cols.items()}
    copies["day"] = copies["day"] - 90
    copies["gross_usd"] = copies["gross_usd"] * rng.uniform(0.92, 1.08, len(src))
    cols = {key: np.concatenate([cols[key], copies[key]]) for key in cols}
    total = len(cols["cust"])

    seconds = _HOUR_LOOKUP[rng.integers(0, len(_HOUR_LOOKUP), total)] * 3600 + rng.integers(0, 3600, total)
    cols["ts"] = cal.as_of_epoch - cols["day"].astype(np.int64) * DAY + seconds

    # Amounts in the customer's currency, in cents.
    currency = cu.currency[cols["cust"]]
    gross = np.round(cols["gross_usd"] * _FX_PER_USD[currency] * 100).astype(np.int64)
    gross = np.where(cols["gross_usd"] > 0, np.maximum(gross, 100), 0)
    discount = np.floor(gross * cols["disc_frac"]).astype(np.int64)
    # Declining customers: revenue of the current 90 days <= 25 % of the previous 90 days.
    role = cols["role"]
    prev_mask = role == _ROLE_DECLINE_PREV
    prev_net = np.bincount(
        cols["cust"][prev_mask], weights=(gross - discount)[prev_mask].astype(np.float64), minlength=cu.n
    )
    cur = np.flatnonzero(role == _ROLE_DECLINE_CUR)
    gross[cur] = np.minimum(gross[cur], np.floor(prev_net[cols["cust"][cur]] * 0.25).astype(np.int64))
    discount[cur] = np.floor(gross[cur] * cols["disc_frac"][cur]).astype(np.int64)

    cols["currency"] = currency
    cols["gross"] = gross
    cols["discount"] = discount
    cols["discount_null"] = cols["disc_kind"] == 2
    cols["cost"] = np.round(gross * cols["cost_frac"]).astype(np.int64)
    for key in ("gross_usd", "disc_kind", "disc_frac", "cost_frac", "day", "role"):
        del cols[key]
    return cols


def _add_updates(
    rng: np.random.Generator, cols: dict[str, np.ndarray], cal: _Calendar
) -> dict[str, np.ndarray]:
    """Set ``updated_at``; append stale earlier versions of a few re-delivered orders."""
    n = len(cols["ts"])
    ts = cols["ts"]
    upd = ts.copy()
    refunded = cols["status"] == _REFUNDED
    upd[refunded] += rng.integers(DAY, 30 * DAY, int(refunded.sum()))
    late = ~refunded & (rng.random(n) < 0.02)
    upd[late] += rng.integers(3600, 3 * DAY, int(late.sum()))

    eligible = np.flatnonzero((cols["status"] != _PENDING) & (ts + 3600 <= cal.end_epoch))
    n_redelivered = min(len(eligible), max(3, round(n * 0.003)))
    again = np.sort(rng.choice(eligible, n_redelivered, replace=False))
    unchanged = again[upd[again] == ts[again]]
    upd[unchanged] += rng.integers(3600, 10 * DAY, len(unchanged))
    np.minimum(upd, cal.end_epoch, out=upd)
    cols["upd"] = upd
    cols["version"] = np.ones(n, dtype=np.int8)

    stale = {key: value[again] for key, value in cols.items()}
    stale["status"] = np.array([_PENDING, _PENDING, _COMPLETED, _PENDING], dtype=np.int8)[stale["status"]]
    stale["upd"] = stale["ts"].copy()
    stale["version"] = np.zeros(len(again), dtype=np.int8)
    cols = {key: np.concatenate([cols[key], stale[key]]) for key in cols}

    rows = len(cols["ts"])
    cols["tz"] = _categorical(rng.random(rows), _TZ_P)
    cols["case"] = _categorical(rng.random(rows), _CASE_P)
    cols["category_variant"] = _categorical(rng.random(rows), (0.7, 0.2, 0.1))
    return cols


def _orders_table(o: _Orders, cu: _Customers) -> pa.Table:
    """Arrow table of all order rows, sorted by ``updated_at`` (the export order)."""
    c = o.cols
    order = _sort_order(c["upd"] - c["upd"].min(), c["order_no"] * 2 + c["version"])
    cust = c["cust"][order]
    tz = c["tz"][order]
    country = cu.country[cust]
    # Local-offset rows use the customer's country offset (suffix codes 3.. follow COUNTRIES).
    tz_code = np.where(tz == _TZ_LOCAL, _TZ_LOCAL + country, tz).astype(np.int8)
    status = c["status"][order]
    return pa.table(
        {
            "order_no": c["order_no"][order],
            "cust_no": cust.astype(np.int64) + 1,
            "ts": c["ts"][order],
            "upd": c["upd"][order],
            "tz_shift": _TZ_SHIFT[tz_code],
            "tz_naive": tz_code == _TZ_NAIVE,
            "tz_suffix": _dictionary(tz_code, _TZ_SUFFIX),
            "status": _dictionary(status, STATUSES),
            "status_text": _dictionary(status * 3 + c["case"][order], _STATUS_TEXT_CSV),
            "currency": _dictionary(c["currency"][order], CURRENCIES),
            "gross": c["gross"][order],
            "discount": pa.array(c["discount"][order], mask=c["discount_null"][order]),
            "cost": pa.array(c["cost"][order], mask=c["cost_null"][order]),
            "channel": _dictionary(c["channel"][order], CHANNELS),
            "category": _dictionary(c["category"][order] * 3 + c["category_variant"][order], _CATEGORY_TEXT),
        }
    )


def _ts_text(column: str) -> str:
    """SQL rendering an epoch-seconds column as ISO 8601 text in the row's time-zone style."""
    local = f"epoch_ms(({column} + tz_shift) * 1000)"
    return (
        f"CASE WHEN tz_naive THEN strftime({local}, '%Y-%m-%d %H:%M:%S') "
        f"ELSE strftime({local}, '%Y-%m-%dT%H:%M:%S') || tz_suffix END"
    )


def _order_select(kind: str, order_width: int, customer_width: int) -> str:
    if kind == "parquet":
        order_ts, updated_at, status = "to_timestamp(ts)", "to_timestamp(upd)", "status"
    else:
        order_ts, updated_at = _ts_text("ts"), _ts_text("upd")
        status = "status_text" if kind.startswith("csv") else "status"
    return f"""
        SELECT 'O' || lpad(order_no::VARCHAR, {order_width}, '0') AS order_id,
               'C' || lpad(cust_no::VARCHAR, {customer_width}, '0') AS customer_id,
               {order_ts} AS order_ts,
               {status}::VARCHAR AS status,
               currency::VARCHAR AS currency,
               (gross / 100)::DECIMAL(18, 2) AS gross_amount,
               (discount / 100)::DECIMAL(18, 2) AS discount_amount,
               (cost / 100)::DECIMAL(18, 2) AS cost_amount,
               channel::VARCHAR AS channel,
               category::VARCHAR AS product_category,
               {updated_at} AS updated_at
        FROM order_rows"""


def _write_orders(
    con: duckdb.DuckDBPyConnection,
    o: _Orders,
    cu: _Customers,
    cal: _Calendar,
    folder: Path,
    report: Callable[[str], None],
) -> list[Path]:
    """Cut the order rows by ``updated_at`` into yearly Parquet, two monthly CSVs and a JSON Lines tail."""
    table = _orders_table(o, cu)
    upd = table.column("upd").to_numpy()
    jsonl_start = cal.as_of - timedelta(days=2)
    csv_recent = _month_start(jsonl_start - timedelta(days=1))
    csv_older = _previous_month_start(csv_recent)

    plan: list[tuple[str, str, int]] = []  # (file name, kind, first updated_at epoch)
    for year in range(cal.start.year, csv_older.year + 1):
        if date(year, 1, 1) >= csv_older:
            break
        lo = np.iinfo(np.int64).min if year == cal.start.year else _epoch(date(year, 1, 1))
        plan.append((f"orders_{year}.parquet", "parquet", lo))
    plan.append((f"orders_{csv_older:%Y-%m}.csv.gz", "csv.gz", _epoch(csv_older)))
    plan.append((f"orders_{csv_recent:%Y-%m}.csv", "csv", _epoch(csv_recent)))
    if jsonl_start.month == cal.as_of.month:
        tail = f"orders_{jsonl_start.isoformat()}_{cal.as_of.day:02d}.jsonl"
    else:
        tail = f"orders_{jsonl_start.isoformat()}_{cal.as_of.isoformat()}.jsonl"
    plan.append((tail, "jsonl", _epoch(jsonl_start)))

    bounds = np.searchsorted(upd, [lo for _, _, lo in plan], side="left").tolist() + [len(upd)]
    order_width = max(8, len(str(o.n_orders)))
    customer_width = max(7, len(str(cu.n)))
    written = []
    for (name, kind, _), a, b in zip(plan, bounds[:-1], bounds[1:], strict=True):
        con.register("order_rows", table.slice(a, b - a))
        path = folder / name
        _copy(con, _order_select(kind, order_width, customer_width), path, _COPY_OPTIONS[kind], cal.end_epoch)
        con.unregister("order_rows")
        written.append(path)
        report(f"wrote {name} ({b - a:,} rows)")
    return written


# ---------------------------------------------------------------------------------------------------------------------
# contacts


@dataclass
class _Contacts:
    """Contact rows in ``contact_no`` order: one block per customer (primary first), then duplicate records."""

    cols: dict[str, np.ndarray]
    n_base: int
    primary_row: np.ndarray  # per customer, row of its primary contact
    duplicate_customers: np.ndarray  # customers with a duplicate record

    @property
    def n(self) -> int:
        return len(self.cols["cust"])

    @property
    def n_duplicates(self) -> int:
        return self.n - self.n_base


def _pool_layout(
    pools: Sequence[Sequence[tuple[str, str]]],
) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    counts = np.array([len(p) for p in pools])
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return counts, offsets, [d for p in pools for d, _ in p], [a for p in pools for _, a in p]


_FIRST_COUNT, _FIRST_OFFSET, _FIRST_DISPLAY, _FIRST_ASCII = _pool_layout(_FIRST_NAMES)
_LAST_COUNT, _LAST_OFFSET, _LAST_DISPLAY, _LAST_ASCII = _pool_layout(_LAST_NAMES)


def _pick(rng: np.random.Generator, counts: np.ndarray, offsets: np.ndarray, group: np.ndarray) -> np.ndarray:
    """A random pool entry within each row's group, as a global pool index."""
    return (offsets[group] + np.floor(rng.random(len(group)) * counts[group])).astype(np.int16)


def _make_contacts(
    rng: np.random.Generator, cu: _Customers, first_ts: np.ndarray, cal: _Calendar
) -> _Contacts:
    n_cust = cu.n
    per = np.where(cu.business, rng.integers(2, 5, n_cust), 1)
    cust = np.repeat(np.arange(n_cust, dtype=np.int32), per)
    n = len(cust)
    starts = np.cumsum(per) - per
    primary = np.zeros(n, dtype=bool)
    primary[starts] = True
    country = cu.country[cust]
    business = cu.business[cust]

    locale = _COUNTRY_LOCALE[country].astype(np.int8)
    foreign = rng.random(n) < 0.10
    locale[foreign] = rng.integers(0, len(_LOCALES), int(foreign.sum()))

    # When the account became a customer: shortly before its first order; long-standing accounts earlier.
    start_epoch = _epoch(cal.start)
    buyer = first_ts >= 0
    lead = np.where(
        cu.archetype == _ARCH["new"], rng.integers(0, 20 * DAY, n_cust), rng.integers(0, 45 * DAY, n_cust)
    )
    since = np.where(buyer, first_ts - lead, cal.end_epoch - rng.integers(DAY, 3 * 365 * DAY, n_cust))
    veteran = buyer & (first_ts < start_epoch + 90 * DAY)
    since[veteran] -= rng.integers(0, 4 * 365 * DAY, int(veteran.sum()))
    created = since[cust] + np.where(
        primary, 0, np.floor(rng.random(n) * (cal.end_epoch - since[cust]) * 0.6)
    )
    created = created.astype(np.int64)

    epoch_day = date(1970, 1, 1)
    cols: dict[str, np.ndarray] = {
        "cust": cust,
        # a duplicate record keeps the person number (it is part of the e-mail address)
        "person": np.arange(1, n + 1, dtype=np.int64),
        "primary": primary,
        "locale": locale,
        "first": _pick(rng, _FIRST_COUNT, _FIRST_OFFSET, locale),
        "last": _pick(rng, _LAST_COUNT, _LAST_OFFSET, locale),
        "romanized": (locale >= 3) & (rng.random(n) < 0.3),
        "name_variant": np.zeros(n, dtype=np.int8),
        "email_style": (rng.random(n) < 0.10).astype(np.int8),
        "phone_style": np.floor(rng.random(n) * _PHONE_STYLES[country]).astype(np.int8),
        "phone_null": rng.random(n) < 0.04,
        "phone_number": rng.integers(0, 10**8, n),
        "mobile": rng.integers(0, len(_CN_MOBILE), n).astype(np.int8),
        "job": np.where(business, rng.integers(0, len(_JOB_TITLES), n), -1).astype(np.int16),
        "city_null": np.zeros(n, dtype=bool),
        "birthday": rng.integers((date(1950, 1, 1) - epoch_day).days, (date(2006, 1, 1) - epoch_day).days, n),
        "birthday_null": rng.random(n) >= np.where(business, 0.3, 0.65),
        "opt_in": rng.random(n) < 0.7,
        "created": created,
        "updated": created + np.floor(rng.random(n) * (cal.end_epoch - created + 1)).astype(np.int64),
    }

    # ~2 % of customers: a second record of one of their contacts (same e-mail up to case/blanks).
    dup_customers = np.flatnonzero(rng.random(n_cust) < 0.02)
    if len(dup_customers) == 0:
        dup_customers = np.array([rng.integers(0, n_cust)])
    src = starts[dup_customers] + np.floor(rng.random(len(dup_customers)) * per[dup_customers]).astype(
        np.int64
    )
    k = len(src)
    dup = {key: value[src].copy() for key, value in cols.items()}
    dup["primary"][:] = False
    dup["email_style"] = rng.integers(2, 6, k).astype(np.int8)
    dup["name_variant"] = _categorical(rng.random(k), (0.7, 0.15, 0.15))
    dup["phone_style"] = ((dup["phone_style"] + 1) % _PHONE_STYLES[cu.country[dup["cust"]]]).astype(np.int8)
    dup["phone_null"] = rng.random(k) < 0.1
    dup["job"] = np.where(rng.random(k) < 0.5, -1, dup["job"]).astype(np.int16)
    dup["city_null"] = rng.random(k) < 0.3
    dup["created"] = np.minimum(dup["created"] + rng.integers(30 * DAY, 400 * DAY, k), cal.end_epoch - 3600)
    dup["updated"] = dup["created"] + np.floor(rng.random(k) * (cal.end_epoch - dup["created"] + 1)).astype(
        np.int64
    )
    dup["opt_in"] = np.where(rng.random(k) < 0.2, ~dup["opt_in"], dup["opt_in"])
    dup["birthday_null"] = dup["birthday_null"] | (rng.random(k) < 0.4)
    cols = {key: np.concatenate([cols[key], dup[key]]) for key in cols}
    return _Contacts(cols, n, starts, dup_customers)


_CAP_MACRO = "CREATE OR REPLACE TEMP MACRO cap(s) AS upper(left(s, 1)) || substr(s, 2)"


def _contacts_table(ct: _Contacts, cu: _Customers) -> pa.Table:
    c = ct.cols
    cust = c["cust"]
    country = cu.country[cust]
    business = cu.business[cust]
    n_nouns = len(_COMPANY_NOUNS)
    # Company per customer: a stem, a noun and the country's legal suffix (deterministic from the customer number).
    stem = (cust * 7 + 3) % len(_COMPANY_STEMS)
    noun = (cust * 5 + 1) % n_nouns
    company_code = (stem * n_nouns + noun) * len(_COMPANY_SUFFIX) + country
    company_names = [
        f"{s} {w} {x}" for s, _ in _COMPANY_STEMS for w in _COMPANY_NOUNS for x in _COMPANY_SUFFIX
    ]
    domains = list(_CONSUMER_DOMAINS) + [
        f"{slug}{w.lower()}.example" for _, slug in _COMPANY_STEMS for w in _COMPANY_NOUNS
    ]
    consumer_domain = (cust * 11 + c["first"]) % len(_CONSUMER_DOMAINS)
    domain = np.where(business, len(_CONSUMER_DOMAINS) + stem * n_nouns + noun, consumer_domain)
    city = cu.city[cust]
    # Account managers for business and vip accounts, and for 40 % of the others.
    managed = cu.business | (cu.archetype == _ARCH["vip"]) | ((np.arange(cu.n) * 37 % 100) < 40)
    manager = (np.arange(cu.n) * 13) % len(_ACCOUNT_MANAGERS)
    industry = (np.arange(cu.n) * 17 + 5) % len(_INDUSTRIES)
    acquisition = (np.arange(cu.n) * 29 + 2) % len(_ACQUISITION)
    return pa.table(
        {
            "contact_no": np.arange(1, len(cust) + 1, dtype=np.int64),
            "cust_no": cust.astype(np.int64) + 1,
            "person_no": c["person"],
            "first_name": _dictionary(c["first"], _FIRST_DISPLAY),
            "last_name": _dictionary(c["last"], _LAST_DISPLAY),
            "first_ascii": _dictionary(c["first"], _FIRST_ASCII),
            "last_ascii": _dictionary(c["last"], _LAST_ASCII),
            "locale": _dictionary(c["locale"], _LOCALES),
            "romanized": c["romanized"],
            "name_variant": c["name_variant"],
            "email_style": c["email_style"],
            "domain": _dictionary(domain, domains),
            "country_no": country.astype(np.int8),
            "phone_style": c["phone_style"],
            "phone_null": c["phone_null"],
            "phone_number": c["phone_number"],
            "area": _dictionary(city, [x[3] for x in _CITIES]),
            "mob": _dictionary(c["mobile"], _CN_MOBILE),
            "company_name": _dictionary(company_code, company_names, mask=~business),
            "job_title": _dictionary(np.maximum(c["job"], 0), _JOB_TITLES, mask=c["job"] < 0),
            "is_primary": c["primary"],
            "country": _dictionary(country, COUNTRIES),
            "region": _dictionary(city, [x[1] for x in _CITIES]),
            "city": _dictionary(city, [x[2] for x in _CITIES], mask=c["city_null"]),
            "industry": _dictionary(industry[cust], _INDUSTRIES, mask=~business),
            "account_manager": _dictionary(manager[cust], _ACCOUNT_MANAGERS, mask=~managed[cust]),
            "acquisition_channel": _dictionary(acquisition[cust], _ACQUISITION),
            "created": c["created"],
            "updated": c["updated"],
            "birthday": pa.array(c["birthday"].astype(np.int32), pa.date32(), mask=c["birthday_null"]),
            "email_opt_in": c["opt_in"],
        }
    )


def _phone_sql() -> str:
    branches = []
    for country_no, styles in enumerate(_PHONE_SQL):
        inner = " ".join(f"WHEN {style} THEN {expr}" for style, expr in enumerate(styles))
        branches.append(f"WHEN {country_no} THEN CASE phone_style {inner} END")
    return f"CASE WHEN phone_null THEN NULL ELSE CASE country_no {' '.join(branches)} END END"


def _write_contacts(
    con: duckdb.DuckDBPyConnection, ct: _Contacts, cu: _Customers, folder: Path, delivered: int
) -> tuple[Path, pa.Array]:
    """Write the CRM export (UTF-8 with BOM, ``;``); return its path and the normalized e-mail of each contact."""
    con.execute(_CAP_MACRO)
    con.register("contact_rows", _contacts_table(ct, cu))
    contact_width = max(7, len(str(ct.n)))
    customer_width = max(7, len(str(cu.n)))
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE contacts_out AS
        WITH base AS (
            SELECT *,
                   lpad(phone_number::VARCHAR, 8, '0') AS d8,
                   first_ascii || '.' || last_ascii || person_no::VARCHAR AS local_part,
                   CASE WHEN name_variant = 2 OR romanized THEN cap(first_ascii) || ' ' || cap(last_ascii)
                        WHEN locale = 'zh' THEN last_name || first_name
                        WHEN locale = 'ja' THEN last_name || ' ' || first_name
                        ELSE first_name || ' ' || last_name END AS name_plain
            FROM contact_rows
        )
        SELECT 'K' || lpad(contact_no::VARCHAR, {contact_width}, '0') AS contact_id,
               'C' || lpad(cust_no::VARCHAR, {customer_width}, '0') AS customer_id,
               CASE WHEN name_variant = 1 THEN upper(name_plain) ELSE name_plain END AS full_name,
               CASE email_style
                    WHEN 0 THEN local_part || '@' || domain
                    WHEN 1 THEN cap(local_part) || '@' || domain
                    WHEN 2 THEN upper(local_part || '@' || domain)
                    WHEN 3 THEN cap(local_part) || '@' || domain || ' '
                    WHEN 4 THEN '  ' || local_part || '@' || domain || ' '
                    ELSE local_part || '@' || upper(domain) END AS email,
               {_phone_sql()} AS phone,
               company_name::VARCHAR AS company_name,
               job_title::VARCHAR AS job_title,
               is_primary,
               country::VARCHAR AS country,
               region::VARCHAR AS region,
               city::VARCHAR AS city,
               industry::VARCHAR AS industry,
               account_manager::VARCHAR AS account_manager,
               acquisition_channel::VARCHAR AS acquisition_channel,
               strftime(epoch_ms(created * 1000), '%Y-%m-%d %H:%M:%S') AS created_at,
               strftime(epoch_ms(updated * 1000), '%Y-%m-%d %H:%M:%S') AS updated_at,
               birthday,
               email_opt_in
        FROM base
        ORDER BY contact_no
    """)
    con.unregister("contact_rows")
    path = folder / "contacts_export.csv"
    _copy(
        con,
        "SELECT * FROM contacts_out ORDER BY contact_id",
        path,
        _COPY_OPTIONS["csv;"],
        delivered,
        bom=True,
    )
    emails = con.execute(
        "SELECT lower(trim(email)) AS email FROM contacts_out ORDER BY contact_id"
    ).to_arrow_table()
    con.execute("DROP TABLE contacts_out")
    return path, emails.column("email").combine_chunks()


# ---------------------------------------------------------------------------------------------------------------------
# survey responses


@dataclass
class _Surveys:
    cols: dict[str, np.ndarray]  # sorted by submission time
    n_unmatched: int

    @property
    def n(self) -> int:
        return len(self.cols["submitted"])


def _make_surveys(
    rng: np.random.Generator, cu: _Customers, o: _Orders, ct: _Contacts, total: int, cal: _Calendar
) -> _Surveys:
    ts = o.cols["ts"][: o.n_orders]
    status = o.cols["status"][: o.n_orders]
    order_cust = o.cols["cust"][: o.n_orders]

    unhappy = np.flatnonzero(cu.unhappy)
    planted_cust = np.repeat(unhappy, 1 + (rng.random(len(unhappy)) < 0.4))
    n_unmatched = max(1, round(total * 0.03))
    n_base = total - n_unmatched - len(planted_cust)
    if n_base < 0:
        raise ValueError("too few orders for the planted survey responses")
    n_post = round(n_base * 0.75)
    n_quarterly = n_base - n_post

    eligible = np.flatnonzero((status == _COMPLETED) | (status == _REFUNDED))
    picked = np.sort(rng.choice(eligible, n_post, replace=n_post > len(eligible)))
    post_sub = ts[picked] + np.floor(rng.random(n_post) * np.minimum(7 * DAY, cal.end_epoch - ts[picked] + 1))
    buyers = np.flatnonzero(o.first_ts >= 0)
    quarterly_cust = buyers[rng.integers(0, len(buyers), n_quarterly)]
    first = o.first_ts[quarterly_cust]
    quarterly_sub = first + np.floor(rng.random(n_quarterly) * (cal.end_epoch - first + 1))
    n_planted = len(planted_cust)
    planted_sub = (
        cal.as_of_epoch - rng.integers(3, 86, n_planted) * DAY
        + _HOUR_LOOKUP[rng.integers(0, len(_HOUR_LOOKUP), n_planted)] * 3600
        + rng.integers(0, 3600, n_planted)
    )  # fmt: skip
    start_epoch = _epoch(cal.start)
    unmatched_sub = rng.integers(start_epoch, cal.end_epoch + 1, n_unmatched)

    cust = np.concatenate(
        [order_cust[picked], quarterly_cust, planted_cust, np.full(n_unmatched, -1)]
    ).astype(np.int64)
    submitted = np.concatenate([post_sub, quarterly_sub, planted_sub, unmatched_sub]).astype(np.int64)
    kind = np.repeat(np.array([0, 0, 1, 2], dtype=np.int8), [n_post, n_quarterly, n_planted, n_unmatched])
    survey = np.concatenate(
        [
            np.zeros(n_post, dtype=np.int8),
            np.ones(n_quarterly, dtype=np.int8),
            np.where(rng.random(n_planted) < 0.5, 2, 0).astype(np.int8),
            rng.integers(0, 2, n_unmatched).astype(np.int8),
        ]
    )
    order = np.argsort(submitted, kind="stable")
    cust, submitted, kind, survey = cust[order], submitted[order], kind[order], survey[order]
    n = len(cust)
    matched = cust >= 0
    safe_cust = np.where(matched, cust, 0)
    planted = kind == 1

    # Respondent: any contact of the customer (duplicates included); planted ones: the primary contact.
    contact_cust = ct.cols["cust"]
    by_customer = np.argsort(contact_cust, kind="stable")
    count = np.bincount(contact_cust, minlength=cu.n)
    first_row = np.cumsum(count) - count
    row = by_customer[first_row[safe_cust] + np.floor(rng.random(n) * count[safe_cust]).astype(np.int64)]
    row = np.where(planted, ct.primary_row[safe_cust], row)
    row = np.where(matched, row, -1)
    has_contact_id = matched & (rng.random(n) < 0.6)

    is_unhappy = matched & cu.unhappy[safe_cust]
    nps = rng.choice(11, n, p=_NPS_P).astype(np.int8)
    vip = matched & (cu.archetype[safe_cust] == _ARCH["vip"])
    nps = np.where(vip & (rng.random(n) < 0.5), np.minimum(nps + 1, 10), nps).astype(np.int8)
    complaint = (rng.random(n) < 0.04) & ~is_unhappy & ~planted
    nps[complaint] = rng.integers(0, 7, int(complaint.sum()))
    unhappy_recent = is_unhappy & ~planted & (submitted >= cal.as_of_epoch - 95 * DAY)
    nps[unhappy_recent] = rng.integers(2, 7, int(unhappy_recent.sum()))
    nps[planted] = rng.integers(0, 5, int(planted.sum()))
    complaint |= planted

    csat = np.clip(np.round(1 + nps[:, None] * 0.38 + rng.normal(0.0, 0.6, (n, 3))), 1, 5).astype(np.int8)
    csat[complaint, 1] = np.minimum(csat[complaint, 1], 2)
    csat[planted] = np.stack(
        [rng.integers(1, 3, n_planted), np.ones(n_planted), rng.integers(1, 4, n_planted)], 1
    )
    csat_null = rng.random((n, 3)) < 0.10

    language = np.where(matched, _COUNTRY_LOCALE[cu.country[safe_cust]], rng.integers(0, len(_LOCALES), n))
    language = np.where(rng.random(n) < 0.15, 0, language)
    sentiment = np.where(complaint | (nps <= 6), 2, np.where(nps >= 9, 0, 1))
    sizes = np.array([[len(s) for s in lang] for lang in _COMMENTS])
    offsets = (np.cumsum(sizes.ravel()) - sizes.ravel()).reshape(sizes.shape)
    comment = offsets[language, sentiment] + np.floor(rng.random(n) * sizes[language, sentiment]).astype(
        np.int64
    )
    comment_null = rng.random(n) >= np.where(planted, 0.85, np.where(complaint, 0.8, 0.5))

    cols = {
        "submitted": submitted,
        "survey": survey,
        "row": row,
        "has_contact_id": has_contact_id,
        "email_case": _categorical(rng.random(n), (0.85, 0.05, 0.10)),
        "nps": nps,
        "csat": csat,
        "csat_null": csat_null,
        "complaint": complaint,
        "complaint_category": np.where(complaint, rng.integers(0, len(_COMPLAINT_CATEGORIES), n), -1),
        "comment": comment,
        "comment_null": comment_null,
        # parts of the e-mail address of unmatched respondents
        "guest_first": rng.integers(0, len(_FIRST_ASCII), n),
        "guest_last": rng.integers(0, len(_LAST_ASCII), n),
        "guest_no": rng.integers(100, 100_000, n),
        "guest_domain": rng.integers(0, len(_CONSUMER_DOMAINS), n),
    }
    return _Surveys(cols, n_unmatched)


def _surveys_table(sv: _Surveys, normalized_emails: pa.Array) -> pa.Table:
    c = sv.cols
    matched = c["row"] >= 0
    return pa.table(
        {
            "resp_no": np.arange(1, sv.n + 1, dtype=np.int64),
            "survey": _dictionary(c["survey"], _SURVEYS),
            "submitted": c["submitted"],
            "email": normalized_emails.take(pa.array(np.where(matched, c["row"], 0))),
            "matched": matched,
            "guest_first": _dictionary(c["guest_first"], _FIRST_ASCII),
            "guest_last": _dictionary(c["guest_last"], _LAST_ASCII),
            "guest_no": c["guest_no"],
            "guest_domain": _dictionary(c["guest_domain"], _CONSUMER_DOMAINS),
            "email_case": c["email_case"],
            "contact_no": pa.array(c["row"] + 1, mask=~c["has_contact_id"]),
            "nps": c["nps"],
            "csat_product": pa.array(c["csat"][:, 0], mask=c["csat_null"][:, 0]),
            "csat_service": pa.array(c["csat"][:, 1], mask=c["csat_null"][:, 1]),
            "csat_price": pa.array(c["csat"][:, 2], mask=c["csat_null"][:, 2]),
            "is_complaint": c["complaint"],
            "complaint_category": _dictionary(
                np.maximum(c["complaint_category"], 0),
                _COMPLAINT_CATEGORIES,
                mask=c["complaint_category"] < 0,
            ),
            "comment": _dictionary(
                c["comment"], [t for lang in _COMMENTS for s in lang for t in s], mask=c["comment_null"]
            ),
        }
    )


def _write_surveys(
    con: duckdb.DuckDBPyConnection,
    sv: _Surveys,
    normalized_emails: pa.Array,
    n_contacts: int,
    cal: _Calendar,
    folder: Path,
    report: Callable[[str], None],
) -> list[Path]:
    """The oldest year as one tab-separated CSV, the rest as two JSON Lines files."""
    table = _surveys_table(sv, normalized_emails)
    one_year = cal.as_of - timedelta(days=365)
    quarter = cal.as_of - timedelta(days=89)
    day = timedelta(days=1)
    plan = [
        (f"survey_responses_{cal.start}_{one_year - day}.csv", "tsv", np.iinfo(np.int64).min),
        (f"survey_responses_{one_year}_{quarter - day}.jsonl", "jsonl", _epoch(one_year)),
        (f"survey_responses_{quarter}_{cal.as_of}.jsonl", "jsonl", _epoch(quarter)),
    ]
    bounds = np.searchsorted(sv.cols["submitted"], [lo for _, _, lo in plan], side="left").tolist() + [sv.n]
    response_width = max(7, len(str(sv.n)))
    contact_width = max(7, len(str(n_contacts)))
    written = []
    for (name, kind, _), a, b in zip(plan, bounds[:-1], bounds[1:], strict=True):
        time_format = "%Y-%m-%d %H:%M:%S" if kind == "tsv" else "%Y-%m-%dT%H:%M:%SZ"
        select = f"""
            SELECT 'R' || lpad(resp_no::VARCHAR, {response_width}, '0') AS response_id,
                   survey::VARCHAR AS survey_name,
                   strftime(epoch_ms(submitted * 1000), '{time_format}') AS submitted_at,
                   CASE WHEN NOT matched
                            THEN guest_first || '.' || guest_last || '.' || guest_no::VARCHAR || '@' || guest_domain
                        WHEN email_case = 1 THEN upper(email)
                        WHEN email_case = 2 THEN cap(email)
                        ELSE email END AS respondent_email,
                   'K' || lpad(contact_no::VARCHAR, {contact_width}, '0') AS contact_id,
                   nps AS nps_score,
                   csat_product,
                   csat_service,
                   csat_price,
                   is_complaint,
                   complaint_category::VARCHAR AS complaint_category,
                   comment::VARCHAR AS comment
            FROM survey_rows"""
        con.register("survey_rows", table.slice(a, b - a))
        path = folder / name
        _copy(con, select, path, _COPY_OPTIONS[kind], cal.end_epoch)
        con.unregister("survey_rows")
        written.append(path)
        report(f"wrote {name} ({b - a:,} rows)")
    return written


# ---------------------------------------------------------------------------------------------------------------------
# ground truth


def _write_truth(cu: _Customers, ct: _Contacts, path: Path) -> None:
    width = max(7, len(str(cu.n)))
    numbers = pc.utf8_lpad(pc.cast(pa.array(np.arange(1, cu.n + 1, dtype=np.int64)), pa.string()), width, "0")
    has_duplicate = np.zeros(cu.n, dtype=bool)
    has_duplicate[ct.duplicate_customers] = True
    table = pa.table(
        {
            "customer_id": pc.binary_join_element_wise(pa.scalar("C"), numbers, ""),
            "archetype": _dictionary(cu.archetype, list(ARCHETYPES)).dictionary_decode(),
            "is_business": cu.business,
            "unhappy": cu.unhappy,
            "has_duplicate_contact": has_duplicate,
        }
    )
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------------------------------
# helpers

_COPY_OPTIONS = {
    "parquet": "FORMAT parquet, COMPRESSION snappy",
    "csv": "FORMAT csv, HEADER true, DELIMITER ','",
    "csv.gz": "FORMAT csv, HEADER true, DELIMITER ',', COMPRESSION gzip",
    "csv;": "FORMAT csv, HEADER true, DELIMITER ';'",
    "tsv": "FORMAT csv, HEADER true, DELIMITER '\t'",
    "jsonl": "FORMAT json",
}
_GENERATED_SUFFIXES = (".parquet", ".csv", ".csv.gz", ".jsonl", ".tmp")


def _clean_source_folder(folder: Path, source: str) -> None:
    """Create ``folder``; remove files an earlier run wrote there (``<source>_*`` with a generated suffix)."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in folder.iterdir():
        name = path.name
        if (
            path.is_file()
            and name.lstrip(".").startswith(f"{source}_")
            and name.endswith(_GENERATED_SUFFIXES)
        ):
            path.unlink()


def _copy(
    con: duckdb.DuckDBPyConnection,
    select: str,
    path: Path,
    options: str,
    delivered: int,
    *,
    bom: bool = False,
) -> None:
    """``COPY (select) TO path`` through a hidden temporary file, so readers never see a partial file.

    The file is dated ``delivered`` (epoch seconds) before it is renamed into place: the demo's files are
    delivered at the end of the as-of day, and a loader that waits for files to settle finds them settled.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    target = str(tmp).replace("'", "''")
    con.execute(f"COPY ({select}) TO '{target}' ({options})")
    if bom:
        with_bom = path.with_name(f".{path.name}.bom.tmp")
        with open(with_bom, "wb") as out, open(tmp, "rb") as data:
            out.write(codecs.BOM_UTF8)
            shutil.copyfileobj(data, out, 1 << 20)
        tmp.unlink()
        tmp = with_bom
    os.utime(tmp, ns=(delivered * 10**9, delivered * 10**9))
    os.replace(tmp, path)


def _categorical(r: np.ndarray, probabilities: Sequence[float]) -> np.ndarray:
    """Map uniform draws ``r`` in [0, 1) to category indices (int8) with the given probabilities."""
    cdf = np.cumsum(probabilities, dtype=np.float64)
    cdf /= cdf[-1]
    index = np.zeros(len(r), dtype=np.int8)
    for edge in cdf[:-1]:  # a few comparisons beat a binary search per element
        index += r >= edge
    return index


def _sort_order(major: np.ndarray, minor: np.ndarray) -> np.ndarray:
    """Permutation sorting by (``major``, ``minor``); both non-negative, ``major`` < 2**29, ``minor`` < 2**34.

    The combined keys are unique, so the result does not depend on the sort algorithm (platform-independent).
    """
    keys = (major.astype(np.int64) << 34) | minor.astype(np.int64)
    return np.argsort(keys)


def _dictionary(
    codes: np.ndarray, values: Sequence[str], mask: np.ndarray | None = None
) -> pa.DictionaryArray:
    indices = pa.array(np.asarray(codes, dtype=np.int32), mask=mask)
    return pa.DictionaryArray.from_arrays(indices, pa.array(list(values), pa.string()))
