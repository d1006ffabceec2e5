"""Request and response bodies of the model server (the OpenAPI schema is built from these)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from dojo.contracts import Transaction


class BatchRequest(BaseModel):
    """Several transactions scored in one call (at most DOJO_SERVING_BATCH_MAX_ROWS)."""

    model_config = ConfigDict(extra="forbid")

    transactions: list[Transaction] = Field(min_length=1)


class Prediction(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    request_id: str
    transaction_id: str
    score: float = Field(description="P(fraud) from the model.")
    decision: Literal["fraud", "legit"] = Field(
        description="score >= threshold; the threshold is the one logged with the version.")
    threshold: float
    model_name: str
    model_version: str
    variant: Literal["champion", "canary"]
    degraded: bool = Field(description="Scored with default features (see degraded_reason).")
    degraded_reason: str | None
    feature_age_seconds: float | None = Field(
        description="Now minus the event time of the user features used (null: none found).")


class BatchPrediction(BaseModel):
    predictions: list[Prediction]


class ErrorBody(BaseModel):
    """Every 4xx (and the 503 of a server without a model): short, naming the field or limit."""

    error: str
    field: str | None = None
    detail: str | None = None


class RoutingUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["off", "shadow", "canary"]
    canary_share: float | None = Field(None, ge=0.0, le=1.0)


class RoutingState(BaseModel):
    mode: Literal["off", "shadow", "canary"]
    canary_share: float


class RateLimitUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    per_s: float = Field(ge=0, le=1_000_000, description="Requests/s per API key; 0 = off.")
    burst: int = Field(ge=1, le=1_000_000, description="Bucket capacity.")


class Health(BaseModel):
    status: Literal["alive"]


class Readiness(BaseModel):
    ready: bool
    reasons: list[str]
    model_version: str | None
    prediction_log: str


class ReloadResult(BaseModel):
    changes: list[str]
    problem: str | None
