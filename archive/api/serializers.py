"""Explicit serializers over renderings: a new model field can never leak by default."""

from rest_framework import serializers


class CollectionSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    title = serializers.CharField()
    description = serializers.CharField()
    interview_count = serializers.IntegerField()


class NarratorSerializer(serializers.Serializer):
    public_id = serializers.CharField()
    display_name = serializers.CharField()
    anonymity = serializers.CharField()


class WordSerializer(serializers.Serializer):
    text = serializers.CharField()
    start = serializers.FloatField(allow_null=True)
    end = serializers.FloatField(allow_null=True)


class SegmentSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    start = serializers.FloatField()
    end = serializers.FloatField()
    speaker = serializers.CharField()
    text = serializers.CharField()
    language = serializers.CharField()
    words = WordSerializer(many=True)
    sent_at = serializers.CharField(
        help_text="When the chat message or email was sent, at the tier's precision: "
        '"YYYY-MM-DDTHH:MM:SS" from staff up, "YYYY-MM" below; "" for speech.'
    )


class InterviewSummarySerializer(serializers.Serializer):
    id = serializers.CharField(source="interview_id")
    tier = serializers.CharField()
    collection = serializers.CharField(source="collection_slug")
    title = serializers.CharField()
    summary = serializers.CharField()
    mode = serializers.CharField()
    recorded_on = serializers.CharField()
    place = serializers.CharField()
    languages = serializers.ListField(child=serializers.CharField())
    topics = serializers.ListField(child=serializers.CharField())
    narrators = NarratorSerializer(many=True)
    interviewer = serializers.CharField()
    status = serializers.CharField()
    duration_seconds = serializers.FloatField(allow_null=True)
    audio_available = serializers.BooleanField(source="audio_allowed")
    policy_version = serializers.CharField()


class InterviewDetailSerializer(InterviewSummarySerializer):
    segments = SegmentSerializer(many=True)
