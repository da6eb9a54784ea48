"""shopkit: a small retail back-office toolkit used as the Portalis sample project.

Every module is plain, typed Python: functions over built-in types and small classes. Each
function is self-contained (it calls only builtins and, for classes, its own methods), so the
rule-based translator can translate each unit on its own. The `broken` package holds files the
translator must report as failures without stopping the job.
"""
