"""Reinforcement learning with Stable-Baselines3 (needs the ``rl`` extra)."""
