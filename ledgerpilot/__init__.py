"""ledgerpilot drafts double-entry journal entries for the documents that arrive in a
company's accounting information system (AIS), learned from that company's own posting
history. A LangGraph agent proposes a posting scheme (from retrieval over past postings or a
fine-tuned language model), Decimal arithmetic binds and checks every amount against the
document, and an accountant approves, edits or rejects each draft before it is written back
to the AIS, idempotently and with an audit trail. The same history trains small LoRA
adapters and feeds audit anomaly checks over the journal.
"""

__version__ = "0.1.0"
