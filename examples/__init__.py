"""Small programs that use Latchkey the way an operator's code would."""
