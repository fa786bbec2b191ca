"""What every panel is given: the compiled network, the findings entered and the page's shareable address."""

from __future__ import annotations

from dataclasses import dataclass

from bn.evidence import Evidence
from bn.inference import BayesNet
from bn.model import Network
from bn.present import label_ids, sentence_case
from bn.target import SOURCE_LABELS


@dataclass(frozen=True)
class Page:
    net: BayesNet
    evidence: Evidence
    url: dict[str, str]                # the query parameters that reproduce the page
    entry_variables: list[str]         # the variables the sidebar offers, in its order
    show_ids: bool = False             # the modeller's view: ids beside labels, prose as written

    def prose(self, text: str) -> str:
        """A modeller's text (description, changelog) as a reader sees it: ids in labels unless ids are shown."""
        return text if self.show_ids else label_ids(text, self.network)

    @property
    def network(self) -> Network:
        return self.net.network

    @property
    def target_choices(self) -> list[str]:
        """What a panel can be asked about: the knee-pain sources, then the diagnoses."""
        network = self.network
        return [*network.knee_pain_sources, *(network.by_role("diagnosis") or self.net.default_query_variables())]

    def target_label(self, target: str) -> str:
        if target in SOURCE_LABELS and target in self.network.knee_pain_sources:
            return sentence_case(SOURCE_LABELS[target])
        return self.network[target].display_label if target in self.network else target
