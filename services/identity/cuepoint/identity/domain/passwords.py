"""Password rules after OWASP ASVS 5 (V6): length 8 to 128, any characters, no
composition rules, refuse passwords that are common or made of the user's own data."""

from __future__ import annotations

import unicodedata

MIN_LENGTH = 8
MAX_LENGTH = 128

# The most common passwords of at least 8 characters in public breach corpora.
COMMON_PASSWORDS = frozenset("""
password 12345678 123456789 1234567890 qwertyuiop 11111111 iloveyou sunshine princess football baseball
starwars password1 password12 password123 qwerty123 qwerty12 1q2w3e4r 1q2w3e4r5t 1qaz2wsx zaq12wsx zaq1zaq1
letmein1 welcome1 welcome123 admin123 administrator passw0rd p@ssw0rd p@ssword abc12345 abcd1234 trustno1
superman computer michelle jennifer whatever changeme 12341234 88888888 00000000 87654321 asdfghjkl zxcvbnm1
qwertyui 987654321 123123123 11223344 12344321 q1w2e3r4 q1w2e3r4t5 1234qwer qwer1234 asdf1234 123qweasd
iloveyou1 princess1 football1 baseball1 sunshine1 monkey123 dragon123 shadow123 master123 michael1 charlie1
jordan23 superman1 batman123 pokemon1 whatever1 freedom1 liverpool chelsea1 arsenal1 mustang1 corvette
internet cheese123 samsung1 computer1 welcome2 password2 password!  secret123 default1 letmein123 loveyou1
babygirl1 lovely123 hello123 hellohello blink182 testtest test1234 test12345 guest123 login123 master12
""".split())


def normalize(password: str) -> str:
    # NFKC so that visually identical passwords typed on different keyboards match.
    return unicodedata.normalize("NFKC", password)


def password_problems(password: str, *, email: str = "", display_name: str = "") -> list[str]:
    """Why the password is refused; empty when it is acceptable."""
    value = normalize(password)
    problems = []
    if len(value) < MIN_LENGTH:
        problems.append(f"must be at least {MIN_LENGTH} characters")
    if len(value) > MAX_LENGTH:
        problems.append(f"must be at most {MAX_LENGTH} characters")
    lowered = value.lower()
    if lowered in COMMON_PASSWORDS:
        problems.append("is one of the most common passwords")
    own = {email.lower(), email.lower().split("@")[0], display_name.lower()} - {""}
    if any(part and part == lowered for part in own) or (len(set(lowered)) == 1 and value):
        problems.append("is too easy to guess")
    return problems
