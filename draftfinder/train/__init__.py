"""``draftfinder train``: distil a draft model from a target (issue 12).

==============  =====================================================================================
module          concern
==============  =====================================================================================
prompts         the task's prompts → a seeded, disjoint train / held-out split
teacher         TeacherData: the target's continuations (batched) + ``--corpus`` text scored teacher-forced
losses          forward KL / reverse KL / TVD on the teacher's top-k (DistillSpec, Zhou et al. 2023)
student         the Student protocol, EvalResult, the registry of methods
independent     IndependentStudent: the target's architecture shrunk to N layers (portable HF folder)
loop            THE training loop: AdamW, eval, best-by-held-out-acceptance, checkpoints, resume, Ctrl-C
report          TrainReport → train_report.json
output          ``--out`` checks, temporary folder → rename, the trained-draft registry
==============  =====================================================================================
"""
