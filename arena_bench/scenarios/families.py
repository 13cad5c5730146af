"""Realistic scenario templates. Each issue lists its options in order and says which end
role A prefers (``a_up``: A prefers later options). Role B prefers the other end, unless the
generator makes the issue compatible (both prefer A's end)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IssueTemplate:
    name: str
    description: str
    options: tuple[str, ...]
    a_up: bool


@dataclass(frozen=True)
class Family:
    name: str
    title: str  # formatted with {subject}
    roles: tuple[str, str]
    subjects: tuple[str, ...]
    context: str  # formatted with {subject}, {a}, {b}
    batna_story: tuple[str, str]  # what each side does if there is no deal
    issues: tuple[IssueTemplate, ...]
    supports_compatible: bool = True


def _i(name: str, description: str, options: list[str], a_up: bool) -> IssueTemplate:
    return IssueTemplate(name, description, tuple(options), a_up)


def _money(start: int, stop: int, step: int, prefix: str = "$", suffix: str = "") -> list[str]:
    return [f"{prefix}{v:,}{suffix}" for v in range(start, stop + 1, step)]


FAMILIES: dict[str, Family] = {}


def _register(f: Family) -> None:
    FAMILIES[f.name] = f


_register(
    Family(
        name="software_renewal",
        title="Software contract renewal: {subject}",
        roles=("buyer", "vendor"),
        subjects=(
            "CloudLedger analytics platform",
            "Helix CRM suite",
            "Northwind data warehouse",
            "Orbit security monitoring",
            "Tessera HR system",
        ),
        context="The {a}'s company is renewing its licence for the {subject}. The current contract ends next "
        "month. The {a} and the {b}'s account executive are negotiating the renewal terms.",
        batna_story=(
            "switch to a competing product, with the cost and disruption of migrating",
            "let the account lapse and put the sales team's time into other prospects",
        ),
        issues=(
            _i("annual_price", "Annual licence fee.", _money(60_000, 120_000, 10_000), a_up=False),
            _i(
                "support_tier",
                "Level of technical support.",
                [
                    "Standard, next-business-day response",
                    "Silver, 24h response",
                    "Gold, 8h response",
                    "Platinum, 4h response",
                    "Dedicated engineer, 1h response",
                ],
                a_up=True,
            ),
            _i(
                "contract_length",
                "Length of the renewed contract.",
                ["12 months", "24 months", "36 months", "48 months", "60 months"],
                a_up=False,
            ),
            _i(
                "payment_terms",
                "When invoices are paid.",
                [
                    "Annual upfront",
                    "Semi-annual",
                    "Quarterly",
                    "Net 30 monthly",
                    "Net 60 monthly",
                    "Net 90 monthly",
                ],
                a_up=True,
            ),
            _i(
                "sla_uptime",
                "Guaranteed monthly uptime, with service credits below it.",
                ["99.0%", "99.5%", "99.9%", "99.95%", "99.99%"],
                a_up=True,
            ),
            _i(
                "onboarding",
                "Training for the buyer's staff.",
                [
                    "Self-serve documentation",
                    "2 training sessions",
                    "5 training sessions",
                    "Full on-site onboarding",
                ],
                a_up=True,
            ),
            _i(
                "renewal_price_cap",
                "Limit on the price increase at the next renewal.",
                ["No cap", "10% cap", "7% cap", "5% cap", "3% cap", "Price frozen"],
                a_up=True,
            ),
            _i(
                "data_export",
                "How the buyer can get its data out.",
                ["CSV on request", "Monthly export", "API access", "Full API and exit assistance"],
                a_up=True,
            ),
        ),
    )
)

_register(
    Family(
        name="job_offer",
        title="Job offer: {subject}",
        roles=("candidate", "employer"),
        subjects=(
            "senior data engineer at a logistics firm",
            "product manager at a fintech start-up",
            "staff engineer at a health-tech company",
            "design lead at a retail chain",
            "machine-learning engineer at an insurer",
        ),
        context="The {b} has offered the {a} a position as {subject}. Both want the hire to happen; "
        "they are negotiating the terms of the offer.",
        batna_story=(
            "take a competing offer from another company",
            "hire the runner-up candidate from the same search",
        ),
        issues=(
            _i("base_salary", "Annual base salary.", _money(90_000, 130_000, 5_000), a_up=True),
            _i(
                "signing_bonus",
                "One-off bonus on joining.",
                ["None"] + _money(5_000, 25_000, 5_000),
                a_up=True,
            ),
            _i(
                "vacation",
                "Paid vacation per year.",
                ["15 days", "18 days", "20 days", "23 days", "25 days", "30 days"],
                a_up=True,
            ),
            _i(
                "remote_work",
                "Days a week the candidate may work remotely.",
                ["On-site 5 days", "1 remote day", "2 remote days", "3 remote days", "Fully remote"],
                a_up=True,
            ),
            _i(
                "start_date",
                "When the candidate starts.",
                ["In 2 weeks", "In 4 weeks", "In 6 weeks", "In 8 weeks", "In 12 weeks"],
                a_up=True,
            ),
            _i("title", "Job title.", ["Engineer II", "Senior Engineer", "Staff Engineer"], a_up=True),
            _i(
                "equity",
                "Stock options granted.",
                ["No equity", "1,000 options", "2,500 options", "5,000 options", "10,000 options"],
                a_up=True,
            ),
            _i(
                "training_budget",
                "Annual budget for courses and conferences.",
                ["$0", "$1,000", "$2,500", "$5,000"],
                a_up=True,
            ),
        ),
    )
)

_register(
    Family(
        name="procurement",
        title="Supplier procurement: {subject}",
        roles=("buyer", "supplier"),
        subjects=(
            "injection-moulded housings",
            "lithium battery packs",
            "printed circuit boards",
            "corrugated shipping boxes",
            "stainless steel fasteners",
        ),
        context="A manufacturer's {a} is negotiating a one-year supply agreement for {subject} with a {b}.",
        batna_story=(
            "source from the second-ranked supplier at a higher landed cost",
            "sell the production capacity to other customers on the spot market",
        ),
        issues=(
            _i(
                "unit_price",
                "Price per unit.",
                ["$4.20", "$4.40", "$4.60", "$4.80", "$5.00", "$5.20", "$5.40"],
                a_up=False,
            ),
            _i(
                "volume_commitment",
                "Minimum annual volume the buyer commits to.",
                ["10,000 units", "20,000 units", "30,000 units", "40,000 units", "50,000 units"],
                a_up=False,
            ),
            _i(
                "delivery_time",
                "Lead time from order to delivery.",
                ["1 week", "2 weeks", "3 weeks", "4 weeks", "6 weeks", "8 weeks"],
                a_up=False,
            ),
            _i(
                "payment_terms",
                "When the buyer pays.",
                ["Prepaid", "Net 15", "Net 30", "Net 45", "Net 60", "Net 90"],
                a_up=True,
            ),
            _i(
                "warranty",
                "Warranty on delivered goods.",
                ["90 days", "6 months", "1 year", "2 years", "3 years"],
                a_up=True,
            ),
            _i(
                "defect_penalty",
                "Credit per shipment above the agreed defect rate.",
                ["None", "1% credit", "2% credit", "5% credit", "10% credit"],
                a_up=True,
            ),
            _i(
                "freight",
                "Who pays for shipping.",
                ["Buyer pays freight", "Split freight 50/50", "Supplier pays freight"],
                a_up=True,
            ),
        ),
    )
)

_register(
    Family(
        name="office_lease",
        title="Office lease: {subject}",
        roles=("tenant", "landlord"),
        subjects=(
            "12,000 sq ft in a downtown tower",
            "a converted warehouse loft",
            "two floors of a business park",
            "a ground-floor studio near the station",
            "a refurbished mill building",
        ),
        context="A growing company (the {a}) is negotiating a lease for {subject} with the {b}.",
        batna_story=(
            "lease a comparable space across town with a longer commute for staff",
            "keep the space on the market for another tenant",
        ),
        issues=(
            _i("monthly_rent", "Rent per month.", _money(18_000, 26_000, 1_000), a_up=False),
            _i(
                "lease_term",
                "Length of the lease.",
                ["2 years", "3 years", "5 years", "7 years", "10 years"],
                a_up=False,
            ),
            _i(
                "rent_free",
                "Rent-free period at the start.",
                ["None", "1 month", "2 months", "3 months", "4 months", "6 months"],
                a_up=True,
            ),
            _i(
                "fit_out",
                "Landlord's contribution to fitting out the space.",
                ["$0", "$25 per sq ft", "$50 per sq ft", "$75 per sq ft", "$100 per sq ft"],
                a_up=True,
            ),
            _i(
                "annual_escalation",
                "Yearly rent increase.",
                ["5%", "4%", "3%", "2.5%", "2%", "Fixed rent"],
                a_up=True,
            ),
            _i(
                "parking",
                "Reserved parking spaces.",
                ["None", "5 spaces", "10 spaces", "20 spaces"],
                a_up=True,
            ),
            _i("deposit", "Security deposit.", ["1 month", "2 months", "3 months", "6 months"], a_up=False),
            _i(
                "break_clause",
                "When the tenant may end the lease early.",
                ["No break", "Break after year 5", "Break after year 3", "Break after year 2"],
                a_up=True,
            ),
        ),
    )
)

_register(
    Family(
        name="acquisition",
        title="Acquisition: {subject}",
        roles=("acquirer", "founder"),
        subjects=(
            "a payments start-up",
            "a regional bakery chain",
            "a robotics software studio",
            "a travel booking site",
            "a medical imaging lab",
        ),
        context="The {a} is negotiating to buy {subject}; the {b} owns a controlling stake.",
        batna_story=(
            "buy a smaller competitor instead",
            "keep running the company independently and raise a new round",
        ),
        issues=(
            _i(
                "price",
                "Headline price for the company.",
                ["$40M", "$45M", "$50M", "$55M", "$60M", "$70M", "$80M"],
                a_up=False,
            ),
            _i(
                "consideration",
                "How the price is paid.",
                ["25% cash / 75% stock", "50% cash / 50% stock", "75% cash / 25% stock", "All cash"],
                a_up=False,
            ),
            _i(
                "earnout",
                "Part of the price paid later if targets are met.",
                ["None", "10% over 1 year", "20% over 2 years", "30% over 3 years"],
                a_up=True,
            ),
            _i(
                "founder_retention",
                "How long the founder must stay.",
                ["6 months", "12 months", "24 months", "36 months"],
                a_up=True,
            ),
            _i(
                "escrow",
                "Part of the price held back for warranty claims.",
                ["5% for 12 months", "10% for 12 months", "10% for 18 months", "15% for 24 months"],
                a_up=True,
            ),
            _i(
                "non_compete",
                "Founder's non-compete period.",
                ["None", "1 year", "2 years", "3 years"],
                a_up=True,
            ),
            _i(
                "retention_pool",
                "Bonus pool to retain key employees.",
                ["$0", "$2M", "$5M", "$8M"],
                a_up=False,
            ),
            _i("closing", "Time to closing.", ["30 days", "60 days", "90 days", "120 days"], a_up=True),
        ),
    )
)

_register(
    Family(
        name="licensing",
        title="Licensing partnership: {subject}",
        roles=("licensee", "licensor"),
        subjects=(
            "a battery chemistry patent",
            "a character franchise for toys",
            "a speech-recognition engine",
            "a crop-protection formula",
            "a video codec",
        ),
        context="The {a} wants to license {subject} from the {b} to build products on it.",
        batna_story=(
            "develop an alternative in-house, slower and at higher cost",
            "license it to a rival manufacturer on standard terms",
        ),
        issues=(
            _i("royalty", "Royalty on net sales.", ["2%", "3%", "4%", "5%", "6%", "8%", "10%"], a_up=False),
            _i(
                "upfront_fee",
                "Fee paid on signing.",
                ["$0", "$250,000", "$500,000", "$1M", "$2M"],
                a_up=False,
            ),
            _i(
                "exclusivity",
                "Exclusivity granted.",
                [
                    "Non-exclusive",
                    "Exclusive in one region",
                    "Exclusive in three regions",
                    "Worldwide exclusive",
                ],
                a_up=True,
            ),
            _i(
                "term",
                "Length of the licence.",
                ["2 years", "3 years", "5 years", "7 years", "10 years"],
                a_up=True,
            ),
            _i(
                "minimum_royalty",
                "Minimum royalty per year.",
                ["None", "$50,000", "$100,000", "$250,000", "$500,000"],
                a_up=False,
            ),
            _i(
                "sublicensing",
                "Whether the licensee may sublicense.",
                ["Not allowed", "Allowed with approval", "Allowed with revenue share", "Freely allowed"],
                a_up=True,
            ),
            _i(
                "audit_rights",
                "How often the licensor may audit the licensee's books.",
                ["Monthly audits", "Quarterly audits", "Annual audit", "Audit on cause only"],
                a_up=True,
            ),
            _i(
                "field_of_use",
                "Products the licence covers.",
                ["One product line", "Two product lines", "All consumer products", "All fields"],
                a_up=True,
            ),
        ),
    )
)

_ITEMS = ("books", "hats", "balls", "records", "lamps", "bikes", "paintings", "chairs")


def item_issue(item: str, count: int, names: tuple[str, str]) -> IssueTemplate:
    a, b = (n.capitalize() for n in names)
    options = [f"{a} gets {k}, {b} gets {count - k}" for k in range(count + 1)]
    return IssueTemplate(item, f"{count} {item} to divide.", tuple(options), a_up=True)


_register(
    Family(
        name="item_division",
        title="Dividing shared items: {subject}",
        roles=("alex", "blake"),
        subjects=(
            "clearing out a shared flat",
            "splitting a late aunt's belongings",
            "ending a band's tour",
            "closing a shared studio",
            "dividing a house-clearance lot",
        ),
        context="{a_cap} and {b_cap} are {subject} and must agree how to divide the items between them. "
        "Every item goes to one of them.",
        batna_story=(
            "sell your claim to a dealer for a fixed sum",
            "sell your claim to a dealer for a fixed sum",
        ),
        issues=tuple(
            IssueTemplate(item, "", (), True) for item in _ITEMS
        ),  # built per scenario by item_issue
        supports_compatible=False,
    )
)
