"""Expenses: exact money, categories, history, totals, budgets and CSV in and out."""
