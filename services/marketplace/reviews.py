"""Reviews of marketplace listings: one per user and listing, 1 to 5 stars, verified when the
reviewer's organization installed or bought it; the listing's count and sum of stars change in
the same transaction; helpful / not helpful votes, one per user, counted from the votes."""

from __future__ import annotations

import uuid

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from models.errors import InvalidInput, NotFound
from models.marketplace_tables import Install, Listing, Purchase, Review, ReviewVote
from services.marketplace.listings import visible_to
from services.marketplace.sales import OWNING

MAX_TITLE, MAX_COMMENT = 120, 5000


async def add_review(
    session: AsyncSession,
    listing: Listing,
    organization_id: uuid.UUID,
    user_id: uuid.UUID,
    rating: int,
    title: str,
    comment: str,
) -> Review:
    """The user's review of a listing of another organization."""
    if listing.organization_id == organization_id:
        raise InvalidInput("sellers do not review their own listings")
    if not 1 <= rating <= 5:
        raise InvalidInput("a rating is 1 to 5 stars")
    if len(title) > MAX_TITLE or len(comment) > MAX_COMMENT:
        raise InvalidInput(f"titles have at most {MAX_TITLE} and comments {MAX_COMMENT} characters")
    if await session.scalar(
        select(Review.id).where(Review.listing_id == listing.id, Review.user_id == user_id)
    ):
        raise InvalidInput("you have already reviewed this listing")
    installed = select(Install.id).where(
        Install.listing_id == listing.id, Install.organization_id == organization_id
    )
    bought = select(Purchase.id).where(
        Purchase.listing_id == listing.id,
        Purchase.buyer_organization_id == organization_id,
        Purchase.status.in_((*OWNING, "cancelled")),
    )
    verified = bool(await session.scalar(select(or_(installed.exists(), bought.exists()))))
    review = Review(
        listing_id=listing.id,
        organization_id=organization_id,
        user_id=user_id,
        rating=rating,
        title=title.strip(),
        comment=comment.strip(),
        verified=verified,
    )
    session.add(review)
    await session.execute(
        update(Listing)
        .where(Listing.id == listing.id)
        .values(rating_count=Listing.rating_count + 1, rating_sum=Listing.rating_sum + rating)
    )
    await session.flush()
    return review


async def vote(
    session: AsyncSession,
    organization_id: uuid.UUID,
    user_id: uuid.UUID,
    review_id: uuid.UUID,
    helpful: bool,
) -> Review:
    """Record (or change) the user's vote and recount the review's votes."""
    review = await session.scalar(
        select(Review)
        .join(Listing, Listing.id == Review.listing_id)
        .where(Review.id == review_id, visible_to(organization_id))
    )
    if review is None:
        raise NotFound("no such review")
    if review.user_id == user_id:
        raise InvalidInput("you cannot vote on your own review")
    await session.execute(
        insert(ReviewVote)
        .values(review_id=review.id, user_id=user_id, helpful=helpful)
        .on_conflict_do_update(index_elements=["review_id", "user_id"], set_={"helpful": helpful})
    )
    counts = (
        await session.execute(
            select(
                func.count().filter(ReviewVote.helpful),
                func.count().filter(~ReviewVote.helpful),
            ).where(ReviewVote.review_id == review.id)
        )
    ).one()
    review.helpful_count, review.not_helpful_count = counts
    await session.flush()
    return review


async def reviews_of(
    session: AsyncSession, listing_id: uuid.UUID, first: int, offset: int
) -> list[Review]:
    return list(
        await session.scalars(
            select(Review)
            .where(Review.listing_id == listing_id)
            .order_by(Review.helpful_count.desc(), Review.created_at.desc())
            .offset(offset)
            .limit(first)
        )
    )
