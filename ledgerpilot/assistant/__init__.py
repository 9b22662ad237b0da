"""The accounting assistant: ask, in words, how a kind of document is posted.

``ledgerpilot ask "QUESTION"`` and the web UI's Ask page answer questions such as "How do I
post a phone bill of Velebit Mobil?", "Kako knjižiti najam ureda za 1.250,00 bruto po 25%?"
or "Wie buche ich die Miete?" with a posting scheme (the chart's accounts and names, the side
and the basis of each line's amount: net, VAT at a rate, gross), a short explanation and the
historical entries it rests on; with amounts, a balanced entry in Decimal. Every scheme is
validated against the chart before it is shown; when the history posts it in several ways,
when the history and the model disagree, or when nothing in the history fits, the answer
says so instead of guessing.

* :mod:`.question`: a question's own words (kind, amounts in both number styles, rate, year);
* :mod:`.history`: partners, topics and matching documents, over the agent's history index;
* :mod:`.query`: the question resolved, and how a follow-up keeps the context;
* :mod:`.assistant`: answering with ``memory``, ``llm``, ``local`` or ``auto``;
* :mod:`.bases`, :mod:`.model`: the ``scheme`` task the model was trained on;
* :mod:`.conversation`: the LangGraph thread that remembers a conversation.
"""

from .answers import Answer, AnswerLine, Evidence, Variant
from .assistant import BACKENDS, AskSource, Assistant
from .conversation import ask, build_ask_graph, is_thread, new_thread, turns
from .model import ModelNotConfigured
from .query import Query
from .question import QuestionError

__all__ = [
    "BACKENDS",
    "Answer",
    "AnswerLine",
    "AskSource",
    "Assistant",
    "Evidence",
    "ModelNotConfigured",
    "Query",
    "QuestionError",
    "Variant",
    "ask",
    "build_ask_graph",
    "is_thread",
    "new_thread",
    "turns",
]
