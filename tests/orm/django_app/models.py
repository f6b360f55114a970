"""Models covering the field types, relations and constraints Django migrations create."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models


class Publisher(models.Model):
    name = models.CharField(max_length=100, unique=True)
    country = models.CharField(max_length=2, blank=True, default="")
    founded = models.DateField(null=True, blank=True)
    website = models.URLField(blank=True, default="")

    class Meta:
        ordering = ["name"]


class Tag(models.Model):
    label = models.SlugField(max_length=40, unique=True)


class Author(models.Model):
    first_name = models.CharField(max_length=50)
    last_name = models.CharField(max_length=50, db_index=True)
    email = models.EmailField(null=True, blank=True)
    bio = models.TextField(blank=True, default="")
    age = models.IntegerField(null=True)
    followers = models.BigIntegerField(default=0)
    active = models.BooleanField(default=True)
    joined = models.DateTimeField()
    uid = models.UUIDField(default=uuid.uuid4, unique=True)
    mentor = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="mentees")

    class Meta:
        unique_together = [("last_name", "first_name")]
        indexes = [models.Index(fields=["age", "-followers"], name="author_age_followers_idx")]


class Book(models.Model):
    title = models.CharField(max_length=200)
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
    publisher = models.ForeignKey(Publisher, on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="books")
    tags = models.ManyToManyField(Tag, related_name="books", blank=True)
    price = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("0.00"))
    pages = models.PositiveIntegerField(default=0)
    published = models.DateField(null=True)
    metadata = models.JSONField(default=dict, blank=True)
    in_print = models.BooleanField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["author", "title"], name="book_author_title_uniq"),
            models.CheckConstraint(condition=models.Q(price__gte=0), name="book_price_nonneg"),
        ]
        indexes = [models.Index(fields=["published"], name="book_published_idx")]


class Review(models.Model):
    book = models.ForeignKey(Book, on_delete=models.PROTECT, related_name="reviews")
    reviewer = models.ForeignKey("auth.User", on_delete=models.CASCADE, null=True)
    rating = models.IntegerField()
    body = models.TextField(null=True)
    created = models.DateTimeField(auto_now_add=True)
    stars = models.FloatField(null=True)

    class Meta:
        indexes = [models.Index(fields=["created"], name="review_created_idx")]
