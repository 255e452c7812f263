"""The find workflow: analyze the target, gather candidates, check tokenizers, estimate, rank.

``DraftModelFinder`` keeps the manual's API (§8.5, §11.1); ``find()`` returns a :class:`FindResult` that
every output (table, JSON export, YAML) is rendered from.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from draftfinder import constants
from draftfinder.compat.by_hash import UNVERIFIED, is_unjudged
from draftfinder.find.candidates import gather_candidates
from draftfinder.find.ranking import rank_key
from draftfinder.find.dedupe import SameFiles, add_sources, merge_same_models
from draftfinder.find.config import FinderConfig, validate
from draftfinder.errors import DraftFinderError, NoCompatibleDraftsError
from draftfinder.models.resolver import Resolver
from draftfinder.find.results import (  # noqa: F401  (FindResult, Rejection: importable from here as before)
    CompatibilityResult,
    DraftModelCandidate,
    FindResult,
    ModelInfo,
    Rejection,
    Task,
)
from draftfinder.models.sources.base import CandidateRef, ModelRecord


class DraftModelFinder:
    """Find and rank draft models for a target (manual §11.1)."""

    def __init__(
        self,
        target_model_id: str,
        token: Optional[str] = None,
        task: Task = Task.GENERAL,
        verbose: bool = False,
        max_candidates: int = constants.DEFAULT_MAX_CANDIDATES,
        strict_tokenization: bool = True,
        prefer_official: bool = True,
        show_test_details: bool = False,
        *,
        config: Optional[FinderConfig] = None,
        models_dirs: Sequence[str] = (),
        hardware: Optional[str] = None,
        offline: Optional[bool] = None,
        device: Any = None,
        log: Optional[Callable[[str], None]] = None,
        progress: Optional[Callable[[int, int, str], None]] = None,
    ):
        cfg = config or FinderConfig()
        cfg.target_model = target_model_id
        if config is None:
            cfg.token = token
            cfg.task = Task(task).value if not isinstance(task, str) else task
            cfg.verbose = verbose
            cfg.max_candidates = max_candidates
            cfg.compatibility.strict_tokenization_match = strict_tokenization
            cfg.lenient_tokenization = not strict_tokenization
            cfg.search.prefer_official_models = prefer_official
            cfg.show_test_details = show_test_details
            cfg.models_dirs = list(models_dirs)
            if hardware:
                cfg.hardware = hardware
            if offline is not None:
                cfg.offline = offline
        self.config = validate(cfg)
        # fail early on unknown hardware or bad figures; ``device`` (a predict.devices.Device) wins over the config
        self.device = device if device is not None else device_from_config(self.config)
        self.engine: Optional[str] = None
        self.target_model_id = target_model_id
        self.log = log or (lambda message: None)
        self.progress = progress
        self.result: Optional[FindResult] = None
        self._trained: Dict[str, Any] = {}             # real path -> find.trained.TrainedDraft (set by find())
        self.resolver = Resolver(
            token=self.config.token,
            offline=True if self.config.offline else None,
            models_dirs=self.config.models_dirs,
            timeout=float(self.config.compatibility.tokenizer_load_timeout),
        )

    # --- the manual's API -------------------------------------------------------------------------
    def find_draft_models(self, top_n: int = 5) -> List[DraftModelCandidate]:
        """Find and rank draft models; returns the best ``top_n`` compatible ones."""
        return self.find().top(top_n)

    def print_results(self, top_n: int = 5) -> None:
        """Print the manual's report (§7) to stdout."""
        from draftfinder.report.table import render_find

        if self.result is None:
            self.find()
        print(render_find(self.result.to_dict(top_n), verbose=self.config.verbose,
                          show_warnings=self.config.output.show_warnings,
                          show_memory=self.config.output.show_memory_info,
                          show_compat=self.config.output.show_compatibility_details))

    def export_results(self, output_file: str, top_n: Optional[int] = None) -> None:
        """Write the results as JSON (``target_model``, ``draft_models[]``, ...) atomically."""
        from draftfinder.writer import write_json

        if self.result is None:
            self.find()
        write_json(output_file, self.result.to_dict(top_n))

    # --- the workflow -----------------------------------------------------------------------------
    def _prepare_target(self, target: ModelInfo) -> str:
        """The engine the predictions are for (``--engine``, else the device's default for the target's format)
        and the target's memory; returns why that engine was chosen."""
        from draftfinder.predict.devices import check_engine_on_device, default_engine, default_engine_reason
        from draftfinder.predict.memory import ModelMemory

        if self.config.engine:
            self.engine, engine_source = check_engine_on_device(self.config.engine, self.device), "--engine"
        else:
            self.engine = default_engine(self.device, gguf=_is_gguf(target))
            engine_source = default_engine_reason(self.device, gguf=_is_gguf(target))
        self._target_memory = ModelMemory.from_info(target)
        self._prepared_for = target.model_id
        return engine_source

    def find(self) -> FindResult:
        started = time.perf_counter()
        cfg = self.config
        from draftfinder.models.analysis import ModelAnalyzer

        target_record = self.resolver.resolve(self.target_model_id)
        target = ModelAnalyzer.analyze_record(target_record)
        self.log(f"Target: {target.model_id} ({target.num_parameters:,} parameters, family {target.model_family}, "
                 f"source {target.source})")
        target_tok = _TokenizerSide.for_record(target_record, self.resolver)
        from draftfinder.predict import device_latency
        from draftfinder.predict.memory import check_fit

        engine_source = self._prepare_target(target)
        target_fit = check_fit(self._target_memory, None, self.device, ctx=cfg.ctx, sequences=cfg.concurrency)
        self.log(f"Device: {self.device.summary()}; engine {self.engine} ({engine_source}); "
                 f"target alone: {target_fit.verdict}")

        from draftfinder.find.trained import trained_drafts

        trained = trained_drafts([r.local_dir for r in self.resolver.local_records() if r.local_dir is not None],
                                 matches=lambda name: self._is_target(name, target_record), notes=self.resolver.notes)
        self._trained = {_real(d.path): d for d in trained}
        refs = gather_candidates(target_record, target, self.resolver, cfg, trained)
        self.log(f"Candidates to evaluate: {len(refs)}")
        candidates: List[DraftModelCandidate] = []
        unverified: List[DraftModelCandidate] = []
        rejected: List[Rejection] = []
        self._records: Dict[str, ModelRecord] = {}
        self._identities: Dict[str, str] = {}
        self._seen: Dict[str, str] = {_identity(target_record): target_record.model_id}
        by_identity: Dict[str, Any] = {}          # identity -> the candidate or rejection it produced
        symbols = constants.color_enabled(sys.stderr)          # the log goes to stderr
        yes, no = ("✅", "✗") if symbols else ("accepted:", "rejected:")
        for i, ref in enumerate(refs, 1):
            if self.progress:
                self.progress(i, len(refs), ref.model_id)
            try:
                outcome = self._evaluate(ref, target_record, target, target_tok)
            except DraftFinderError as err:
                outcome = Rejection(ref.model_id, "resolve", [err.message])
            if isinstance(outcome, SameFiles):   # the same files reached under another name: one row, both sources
                first = by_identity.get(outcome.identity)
                if first is not None:
                    add_sources(first.sources, ref, None, self.resolver)
                continue
            add_sources(outcome.sources, ref, self._records.get(ref.model_id), self.resolver)
            if ref.model_id in self._identities:
                by_identity[self._identities[ref.model_id]] = outcome
            if isinstance(outcome, Rejection):
                rejected.append(outcome)
                self.log(f"  {no} {ref.model_id}: {'; '.join(outcome.reasons)}")
            elif outcome.compatibility.verification == UNVERIFIED:
                unverified.append(outcome)
                self.log(f"  ? {ref.model_id}: unverified — {'; '.join(outcome.compatibility.incompatibility_reasons)}")
            else:
                candidates.append(outcome)
                speed = (f"Speedup={outcome.estimated_speedup:.2f}x "
                         f"({outcome.provenance['estimated_speedup'].source}), K={outcome.recommended_k}"
                         if outcome.estimated_speedup is not None else outcome.fit.verdict)
                self.log(f"  {yes} {outcome.model_id}: Quality={outcome.quality_score:.0f}, {speed}")
        merge_same_models(candidates)
        candidates.sort(key=rank_key)
        unverified.sort(key=rank_key)
        for rank, cand in enumerate(candidates, 1):
            cand.rank = rank
        from draftfinder.methods.offers import draft_methods

        from draftfinder.find.pair_estimate import measured_here
        from draftfinder.find.trained import head_offer

        here = measured_here(self.device, self.engine) is not None
        methods = [head_offer(target, d, cfg.task, this_machine=here) for d in trained if d.is_head]
        methods += draft_methods(target, target_record.config, cfg.task, log=self.log,
                                 hub=self.resolver.hub if self.resolver.hub_usable else None)
        notes = list(self.resolver.notes) + [f"could not read {p}" for p in self.resolver.scan_problems]
        if target_fit.fits is False:
            notes.append(f"the target alone {target_fit.verdict} — no pair can run on {self.device.label}: choose a "
                         "quantized target, more devices or other hardware")
        expert_note = _unverified_expert_note(candidates, unverified)
        if expert_note:
            notes.append(expert_note)
        if cfg.task in ("code", "chat"):
            notes.append(f"task {cfg.task}: the acceptance prior has no {cfg.task} offset (no published within-study "
                         f"contrast); only a saved `draftfinder measure --task {cfg.task}` of a pair changes its "
                         "estimate")
        self.result = FindResult(
            target=target,
            candidates=candidates,
            rejected=rejected,
            evaluated=len(candidates) + len(rejected) + len(unverified),
            hardware=self.device.name,
            task=cfg.task,
            notes=notes,
            elapsed_s=time.perf_counter() - started,
            settings=_public_settings(cfg),
            device=self.device,
            engine=self.engine,
            engine_source=engine_source,
            engine_note=device_latency.engine_note(self.engine, self.device),
            ctx_tokens=cfg.ctx,
            concurrency=cfg.concurrency,
            target_fit=target_fit,
            draft_methods=methods,
            unverified=unverified,
        )
        if not candidates:
            raise NoCompatibleDraftsError(target.model_id, len(rejected) + len(unverified),
                                          [r.model_id for r in rejected], unverified=len(unverified))
        return self.result

    def _evaluate(self, ref: CandidateRef, target_record: ModelRecord, target: ModelInfo,
                  target_tok: "_TokenizerSide"):
        from draftfinder.models.analysis import ModelAnalyzer

        cfg = self.config
        record = self.resolver.resolve(ref.model_id)
        identity = _identity(record)
        self._records[ref.model_id] = record
        if identity in self._seen:
            return SameFiles(identity)
        self._seen[identity] = ref.model_id
        self._identities[ref.model_id] = identity
        if _same_model(record, target_record):
            return Rejection(ref.model_id, "size", ["this is the target itself"])
        trained = self._trained.get(_real(record.local_dir)) if record.local_dir is not None else None
        info = ModelAnalyzer.analyze_record(record)
        if info.is_peft:
            return Rejection(info.model_id, "size", [
                f"PEFT adapter (base {info.base_model_id or 'unknown'}): merge it into its base model and "
                "pass the merged folder, or use the base model as the draft"])
        size_ratio = info.num_parameters / target.num_parameters if target.num_parameters else 1.0
        if size_ratio >= 1.0:
            return Rejection(info.model_id, "size", [f"not smaller than the target (size ratio {size_ratio:.2f})"])
        if trained is None and not cfg.search.min_size_ratio <= size_ratio <= cfg.search.max_size_ratio:
            return Rejection(info.model_id, "size", [
                f"size ratio {size_ratio:.4f} outside search bounds "
                f"[{cfg.search.min_size_ratio}, {cfg.search.max_size_ratio}]"])
        if info.is_quantized_variant and not cfg.search.include_quantized:
            return Rejection(info.model_id, "size", ["quantized variant excluded (search.include_quantized: false)"])

        quick = _quick_vocab_rejection(target, info)
        if quick is not None:
            return quick
        draft_tok = _TokenizerSide.for_record(record, self.resolver)
        compat = self._check(target_record, record, target, info, target_tok, draft_tok)
        self._log_check(target, info, compat)
        engine_ok = {k: v.compatible for k, v in compat.engines.items()}
        if is_unjudged(compat):                # could not be judged: estimated and listed apart, never dropped
            compat.verification = UNVERIFIED
            candidate = self._estimate(target, info, compat, size_ratio, trained)
            candidate.source = ref.source
            self._add_variant(candidate, target_record, record, compat)
            candidate.warnings.insert(0, "Unverified: " + "; ".join(compat.incompatibility_reasons))
            return candidate
        if not compat.is_compatible:
            return Rejection(info.model_id, "compatibility", compat.incompatibility_reasons or ["incompatible"],
                             engine_ok)
        if compat.compatibility_score < cfg.compatibility.min_compatibility_score:
            return Rejection(info.model_id, "compatibility", [
                f"compatibility score {compat.compatibility_score:.1f} below "
                f"min_compatibility_score {cfg.compatibility.min_compatibility_score}"], engine_ok)
        candidate = self._estimate(target, info, compat, size_ratio, trained)
        candidate.source = ref.source
        self._add_variant(candidate, target_record, record, compat)
        return candidate

    def _is_target(self, name: str, target_record: ModelRecord) -> bool:
        """``name`` (a trained draft's target) is the find target: the same name, or the same files."""
        if name.strip().lower() in (self.target_model_id.strip().lower(), target_record.model_id.lower()):
            return True
        try:
            record = self.resolver.resolve(name)
        except DraftFinderError:          # a target that does not resolve here is not this one
            return False
        files = [(_real(r.gguf_path) if r.gguf_path else _real(r.local_dir) if r.local_dir else None)
                 for r in (record, target_record)]
        return _same_model(record, target_record) or (files[0] is not None and files[0] == files[1])

    def _add_variant(self, candidate: DraftModelCandidate, target_record: ModelRecord, record: ModelRecord,
                     compat: CompatibilityResult) -> None:
        """The expert's view of the pair (find/expert.py): its tier ranks first; a flagged variant warns."""
        from draftfinder.find.expert import variant_match

        match = variant_match(
            target_record.model_id, record.model_id, compat=compat,
            target_entry=self._catalog_entry(target_record), draft_entry=self._catalog_entry(record),
            target_config=target_record.config, draft_config=record.config,
            target_local=target_record.source in LOCAL_SOURCES, draft_local=record.source in LOCAL_SOURCES,
            same_family=candidate.same_family)
        candidate.variant = match
        if match.flag and self.config.output.show_warnings:
            candidate.warnings.insert(0, match.flag)

    def _catalog_entry(self, record: ModelRecord) -> Dict[str, Any]:
        """The catalog's entry for this model (also when another source answered), else {}."""
        if record.catalog:
            return record.catalog
        names = [record.model_id, str(record.config.get("_name_or_path") or "")]
        for path in (record.local_dir, record.gguf_path):            # a folder named like the fixtures: org__name
            if path is not None and "__" in Path(path).name:
                names.append(Path(path).name.replace("__", "/"))
        try:
            for name in names:
                canonical = self.resolver.catalog.canonical_id(name) if name else None
                if canonical:
                    return self.resolver.catalog.data["models"][canonical]
        except Exception:          # no usable catalog: the name decides
            pass
        return {}

    def _log_check(self, target: ModelInfo, info: ModelInfo, compat: CompatibilityResult) -> None:
        """The manual's verbose block (§7.7) and, with --show-test-details, the failed tests (§7.8)."""
        if self.config.verbose:
            lines = [f"  Checking: {info.model_id}", f"    Parameters: {info.num_parameters:,}"]
            if compat.method == "unverified":
                lines.append(f"    Tokenizer: not checked ({'; '.join(c.reason for c in compat.checks)})")
                for line in lines:
                    self.log(line)
                return
            if compat.method == "file-hash":
                lines.append(f"    Tokenizer: {compat.checks[0].reason}")
                lines += [f"    Engine {name}: {'yes' if v.compatible else 'no'} ({v.mode}; {v.version})"
                          for name, v in compat.engines.items()]
                for line in lines:
                    self.log(line)
                return
            lines += [f"    Vocab sizes: Target={target.tokenizer_vocab_size or 0:,}, Draft="
                      f"{info.tokenizer_vocab_size or 0:,} tokens (config rows {target.vocab_size:,} / {info.vocab_size:,})",
                      f"    Vocab match: {compat.tokenizer_match} ({compat.vocab_mismatches or 0:,} of "
                      f"{compat.shared_vocab_size or 0:,} shared ids differ)",
                      f"    Special tokens match: {compat.special_tokens_match}"]
            if compat.num_test_strings:
                lines += [f"    Tokenization tests: {compat.num_passed_tests}/{compat.num_test_strings} passed",
                          f"    Tokenization match rate: {100 * compat.tokenization_match_rate:.1f}%"]
            else:
                lines.append(f"    Tokenization tests: not run ({compat.method} check)")
            lines += [f"    Decode match: {compat.decode_match}",
                      f"    Compatibility score: {compat.compatibility_score:.1f}/100"]
            lines += [f"    Engine {name}: {'yes' if v.compatible else 'no'} ({v.mode}; {v.version})"
                      for name, v in compat.engines.items()]
            for line in lines:
                self.log(line)
        if self.config.show_test_details and compat.failed_test_examples:
            from draftfinder.report.table import render_failed_tests

            for line in render_failed_tests({"compatibility": compat.to_dict()}):
                self.log(line)

    def _check(self, target_record, record, target, info, target_tok, draft_tok) -> CompatibilityResult:
        """Real tokenizers when both sides have files; stored facts when either comes from the catalog."""
        from draftfinder.compat.checks import EnhancedTokenizerChecker

        cfg = self.config
        strict = cfg.compatibility.strict_tokenization_match and not cfg.lenient_tokenization
        kwargs = dict(target_config=target_record.config, draft_config=record.config,
                      lenient=cfg.lenient_tokenization,
                      require_special_tokens=cfg.compatibility.require_special_tokens)
        if target_tok.tokenizer is not None and draft_tok.tokenizer is not None:
            return EnhancedTokenizerChecker.verify_compatibility(
                target_tok.tokenizer, draft_tok.tokenizer, target.model_id, info.model_id,
                strict_tokenization=strict,
                min_match_rate=cfg.compatibility.min_tokenization_match_rate,
                extra_test_strings=tuple(cfg.test_strings),
                **kwargs,
            )
        target_facts, draft_facts = target_tok.get_facts(), draft_tok.get_facts()
        if target_facts is not None and draft_facts is not None:
            result = EnhancedTokenizerChecker.verify_facts(
                target_facts, draft_facts, target.model_id, info.model_id, strict_tokenization=strict, **kwargs)
            result.checks += [side.borrowed for side in (target_tok, draft_tok) if side.borrowed is not None]
            return result
        # no facts on a side: byte-identical tokenizer files (public hashes) decide, else the pair is unverified
        from draftfinder.compat.by_hash import compare_hashes, record_hashes, verify_by_hash

        t_entry, d_entry = self._catalog_entry(target_record), self._catalog_entry(record)
        cmp = compare_hashes(record_hashes(target_record, t_entry), record_hashes(record, d_entry))
        missing = tuple(m for m, f in ((target.model_id, target_facts), (info.model_id, draft_facts)) if f is None)
        return verify_by_hash(cmp, target.model_id, info.model_id, target_entry=t_entry, draft_entry=d_entry,
                              target_config=target_record.config, draft_config=record.config, missing=missing)

    def _estimate(self, target: ModelInfo, info: ModelInfo, compat: CompatibilityResult,
                  size_ratio: float, trained: Any = None) -> DraftModelCandidate:
        from draftfinder.find.pair_estimate import estimate_pair

        return estimate_pair(self, target, info, compat, size_ratio, trained=trained)


@dataclass
class _TokenizerSide:
    """A model's tokenizer for checking: a real tokenizer when files exist, else catalog facts, else nothing."""

    tokenizer: Any = None
    facts: Any = None
    problem: Optional[str] = None
    borrowed: Any = None            # the check saying whose facts these are (byte-identical files; by_hash.py)

    def get_facts(self):
        """Stored facts, or facts computed from the real tokenizer (to compare with a catalog side)."""
        if self.facts is None and self.tokenizer is not None:
            from draftfinder.compat.facts import facts_from_tokenizer

            self.facts = facts_from_tokenizer(self.tokenizer)
        return self.facts

    @classmethod
    def for_record(cls, record: ModelRecord, resolver: Resolver) -> "_TokenizerSide":
        from draftfinder.compat.facts import TokenizerFacts
        from draftfinder.compat.tokenizer import load_tokenizer

        if record.has_tokenizer_files():
            return cls(tokenizer=load_tokenizer(record))
        if record.source == "catalog":
            facts = resolver.catalog.tokenizer_facts(record)
            if facts is not None:
                return cls(facts=TokenizerFacts.from_dict(facts))
        try:                                  # facts of a catalog model with byte-identical tokenizer files
            from draftfinder.compat.by_hash import borrow_facts, borrowed_check

            canonical = resolver.catalog.canonical_id(record.model_id)
            entry = record.catalog or (resolver.catalog.data["models"][canonical] if canonical else {})
            found = borrow_facts(entry, resolver.catalog.data, exclude=canonical or record.model_id)
        except Exception:                     # no usable catalog: no borrowed facts
            found = None
        if found is not None:
            facts, donor, cmp = found
            return cls(facts=TokenizerFacts.from_dict(facts), borrowed=borrowed_check(donor, cmp))
        return cls(problem=f"no tokenizer files for {record.model_id}")


def _quick_vocab_rejection(target: ModelInfo, info: ModelInfo) -> Optional[Rejection]:
    """Reject without loading the draft's tokenizer when the token counts (read cheaply from the files)
    differ by more than even lenient mode accepts: the full check's required ``tokenizer_size`` check would
    fail in both modes, so the verdict is the same, minus seconds of tokenizer conversion."""
    from draftfinder.compat.checks import LENIENT_MAX_EXTRA_TOKENS

    t_n, d_n = target.tokenizer_vocab_size, info.tokenizer_vocab_size
    if not t_n or not d_n or abs(t_n - d_n) <= LENIENT_MAX_EXTRA_TOKENS:
        return None
    return Rejection(info.model_id, "compatibility", [
        f"tokenizer_size: {t_n:,} vs {d_n:,} tokens differ by {abs(t_n - d_n):,} — more than the "
        f"{LENIENT_MAX_EXTRA_TOKENS} extra ids even --lenient-tokenization accepts: a different vocabulary "
        "(decided from token counts; tokenizer not loaded)"])


def _unverified_expert_note(candidates: List[DraftModelCandidate], unverified: List[DraftModelCandidate]
                            ) -> Optional[str]:
    """When no verified draft is one an expert would pick but an unverified one is, say which and why (the
    verified row 1 is then a flagged variant, or there is none)."""
    if any(c.variant is not None and c.variant.expert_pick for c in candidates):
        return None
    best = next((u for u in unverified if u.variant is not None and u.variant.expert_pick), None)
    if best is None:
        return None
    return (f"no verified {best.variant.target_variant} draft of the family; the expert's pick {best.model_id} is "
            f"unverified ({'; '.join(best.compatibility.incompatibility_reasons)}) — check its tokenizer (pass its "
            "folder with its tokenizer files)" + (" before using a flagged draft" if candidates else ""))


def device_from_config(cfg: FinderConfig) -> Any:
    """The :class:`~draftfinder.predict.devices.Device` of ``hardware`` and the ``device`` section."""
    from draftfinder.predict.devices import get_device

    d = cfg.device
    return get_device(cfg.hardware, bandwidth_gb_s=d.bandwidth_gb_s, tflops=d.tflops, memory_gb=d.memory_gb,
                      threads=d.threads, count=d.count, kind=d.kind)


def _is_gguf(info: ModelInfo) -> bool:
    return bool(info.gguf_file) or info.source in ("gguf", "zoo")


# Sources whose model ids are file or folder names (their variant is not guessed from a missing marker).
LOCAL_SOURCES = ("local", "gguf", "zoo")



def _identity(record: ModelRecord) -> str:
    """The files a record stands for: two names reaching the same files are one candidate."""
    return str(record.gguf_path or record.local_dir or record.model_id).lower()


def _real(path: Any) -> str:
    """A local path as its real absolute path, lower case (the key of a trained draft)."""
    return str(Path(path).expanduser().resolve()).lower()


def _same_model(a: ModelRecord, b: ModelRecord) -> bool:
    """The same model: one id (any case), or the same files (see :func:`_identity`)."""
    return a.model_id.lower() == b.model_id.lower() or _identity(a) == _identity(b)


def _public_settings(cfg: FinderConfig) -> Dict[str, Any]:
    """The settings of this run for the export — never the token."""
    data = cfg.to_dict(include_token=False)
    data["token"] = "set" if cfg.token else None
    return data
