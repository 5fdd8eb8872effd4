"""Integrations of agent frameworks with the traceledger client.

Each module imports its framework, so import only the one you use:

- ``traceledger.integrations.langchain``: a LangChain / LangGraph callback handler;
- ``traceledger.integrations.openai_agents``: an OpenAI Agents SDK tracing processor;
- ``traceledger.integrations.crewai``: a CrewAI event listener.

All of them turn the framework's runs into trace events on one session per
top-level run, numbered in the order they finish, each linked to the run it
belongs to (``parent_event_id``), with model, tokens and latency where the
framework reports them. None of them raises into the framework.
"""
