"""Loyalty points and membership tiers."""

from typing import Dict, List, Optional, Tuple


class LoyaltyAccount:
    """Points earned per whole currency unit spent, with tier multipliers."""

    def __init__(self, member_id: str, tier: str) -> None:
        self.member_id = member_id
        self.tier = tier
        self.points = 0
        self.lifetime_spend = 0.0
        self.history: List[int] = []

    def multiplier(self) -> float:
        if self.tier == "gold":
            return 2.0
        if self.tier == "silver":
            return 1.5
        return 1.0

    def earn(self, spend: float) -> int:
        earned = int(spend * self.multiplier())
        self.points += earned
        self.lifetime_spend += spend
        self.history.append(earned)
        self.upgrade()
        return earned

    def redeem(self, points: int) -> bool:
        if points <= 0 or points > self.points:
            return False
        self.points -= points
        self.history.append(-points)
        return True

    def upgrade(self) -> None:
        if self.lifetime_spend >= 5000 and self.tier != "gold":
            self.tier = "gold"
        elif self.lifetime_spend >= 1000 and self.tier == "bronze":
            self.tier = "silver"

    def value(self, cents_per_point: int) -> int:
        return self.points * cents_per_point


def tier_for_spend(spend: float) -> str:
    if spend >= 5000:
        return "gold"
    if spend >= 1000:
        return "silver"
    return "bronze"


def expiring_points(grants: List[Tuple[int, int]], today: int, lifetime_days: int) -> int:
    """Points from (day granted, points) grants that expire within the next 30 days."""
    total = 0
    for day, points in grants:
        expires = day + lifetime_days
        if today <= expires < today + 30:
            total += points
    return total


def referral_bonus(referrals: Dict[str, List[str]], member: str) -> int:
    """100 points per direct referral, 25 per second-level referral."""
    direct = referrals.get(member, [])
    second = sum(len(referrals.get(r, [])) for r in direct)
    return 100 * len(direct) + 25 * second


def best_member(points: Dict[str, int]) -> Optional[str]:
    if not points:
        return None
    return sorted(points.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
