"""Workflow templates every tenant has. ``3d-printing`` is exactly as documented."""

from dataclasses import dataclass


@dataclass(frozen=True)
class StepSpec:
    name: str
    visible: bool = True
    expected_minutes: int | None = None  # tracee.tracking.estimates


@dataclass(frozen=True)
class TemplateSpec:
    slug: str
    name: str
    steps: tuple[StepSpec, ...]
    builtin: bool = True


def _spec(slug, name, *steps):
    return TemplateSpec(
        slug, name, tuple(s if isinstance(s, StepSpec) else StepSpec(s) for s in steps)
    )


BUILTIN_TEMPLATES = {
    t.slug: t
    for t in (
        _spec(
            "3d-printing",
            "3D Printing Workflow",
            "Preparing/Slicing",
            "3D Printing",
            "Post-Processing",
            StepSpec("Quality Check", visible=False),
            "Packaging",
            "Ready for Shipping",
        ),
        _spec(
            "manufacturing",
            "Manufacturing Workflow",
            "Order Received",
            "Materials Sourcing",
            "Fabrication",
            "Assembly",
            StepSpec("Quality Inspection", visible=False),
            "Packaging",
            "Shipped",
        ),
        _spec(
            "print-shop",
            "Print Shop Workflow",
            "Artwork Received",
            "Proof Approval",
            "Printing",
            "Finishing",
            StepSpec("Quality Check", visible=False),
            "Ready for Pickup",
        ),
        _spec(
            "food-preparation",
            "Food Preparation Workflow",
            "Order Received",
            "Preparing",
            "Cooking",
            StepSpec("Quality Check", visible=False),
            "Ready",
            "Out for Delivery",
        ),
        _spec(
            "repair-service",
            "Repair Service Workflow",
            "Device Received",
            "Diagnosis",
            "Awaiting Parts",
            "Repairing",
            StepSpec("Testing", visible=False),
            "Ready for Pickup",
        ),
    )
}
