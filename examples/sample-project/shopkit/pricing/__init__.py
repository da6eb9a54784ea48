"""Pricing: discounts, tax, currency conversion and quotes."""
