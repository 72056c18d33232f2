"""The base of the institutions: a Mesa agent with an account in the model's ledger."""

from __future__ import annotations

import mesa


class Institution(mesa.Agent):
    """An institution with an account in the model's ledger."""

    def __init__(self, model, name: str, account: int):
        super().__init__(model)
        self.name = name
        self.account = account

    @property
    def equity(self) -> float:
        """Net assets, yuan: opening capital plus net recorded flows."""
        return float(self.model.ledger.balance[self.account])
