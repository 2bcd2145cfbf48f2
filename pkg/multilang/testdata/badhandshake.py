"""Prints a greeting instead of answering the handshake."""
import sys

sys.stdin.readline()
print("hello from a script that does not speak multi-lang")
sys.stdout.flush()
sys.stdin.read()
