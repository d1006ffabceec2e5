"""The capstone game day (lab 21): several drills at once, timed, closed by an incident report."""
