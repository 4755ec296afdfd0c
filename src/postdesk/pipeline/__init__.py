"""The pipeline: the ordered stages every received message runs through.

    parse → classify → spam check                             (before the transaction)
    → voicemail → skip repeated delivery → spam → agent mail → thread → follow merges → bounce → dedupe
    → language → triage → abuse reports → store → dedupe-file → voicemail-file → learn-phones
    → feature requests → respond → notify agents

This page is the order. Each stage is a module of `postdesk.pipeline.stages`,
named as in `STAGES`; `postdesk.pipeline.worker` claims messages and runs
them. `PREPARE` stages read only the message and the settings; they run
before the message's transaction opens, so the database's write lock
(SQLite has one for the whole file) is held only while the `STAGES` need
it. Each stage is a function ``(Work, StageEnv) -> Work``
(`postdesk.core.work`, `postdesk.pipeline.env`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from postdesk.config.model import Settings
from postdesk.core.work import Work
from postdesk.ops.metrics import Metrics
from postdesk.pipeline.env import PureStage, Stage, StageEnv
from postdesk.pipeline.stages import (
    abuse_reports,
    agent_mail,
    bounce,
    classify,
    dedupe,
    dedupe_file,
    feature_requests,
    follow_merges,
    language,
    learn_phones,
    notify_agents,
    parse,
    respond,
    skip_repeated_delivery,
    spam,
    spam_check,
    store,
    thread,
    triage,
    voicemail,
    voicemail_file,
)

PREPARE: Sequence[tuple[str, PureStage]] = (
    ("parse", parse.parse),
    ("classify", classify.classify),
    ("spam-check", spam_check.check_spam),
)

STAGES: Sequence[tuple[str, Stage]] = (
    ("voicemail", voicemail.recognise_voicemail),
    ("skip-repeated-delivery", skip_repeated_delivery.skip_repeated_delivery),
    ("spam", spam.file_spam),
    ("agent-mail", agent_mail.agent_mail),
    ("thread", thread.thread),
    ("follow-merges", follow_merges.follow_merges),
    ("bounce", bounce.attach_bounce),
    ("dedupe", dedupe.dedupe),
    ("language", language.decide_language),
    ("triage", triage.triage),
    ("abuse-reports", abuse_reports.file_abuse_report),
    ("store", store.record),
    ("dedupe-file", dedupe_file.file_dedupe),
    ("voicemail-file", voicemail_file.file_voicemail),
    ("learn-phones", learn_phones.learn_phones),
    ("feature-requests", feature_requests.collect_feature_request),
    ("respond", respond.acknowledge),
    ("notify-agents", notify_agents.notify_agents),
)


def prepare(work: Work, settings: Settings, metrics: Metrics | None = None) -> Work:
    for name, stage in PREPARE:
        started = time.perf_counter()
        work = stage(work, settings)
        if metrics is not None:
            metrics.stage_seconds(name, time.perf_counter() - started)
    return work


def run_stages(work: Work, env: StageEnv, stages: Sequence[tuple[str, Stage]] = STAGES) -> Work:
    for name, stage in stages:
        started = time.perf_counter()
        work = stage(work, env)
        env.metrics.stage_seconds(name, time.perf_counter() - started)
        if work.finished:
            break
    return work
